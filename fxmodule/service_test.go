package fxmodule_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

type chainParams struct {
	fx.In
	Next *node `name:"next" optional:"true"`
}

func TestStartAndStopFollowDependencies(t *testing.T) {
	t.Parallel()
	t.Run("chain", func(t *testing.T) {
		t.Parallel()
		var j journal
		logger, _ := observed(t)
		type aIn struct {
			fx.In
			B *node `name:"b"`
		}
		type bIn struct {
			fx.In
			C *node `name:"c"`
		}
		app := newApp(t, logger,
			// Declared in the opposite order of their dependencies.
			fxmodule.Service("a", func(aIn) *node { return &node{j: &j} }),
			fxmodule.Service("b", func(bIn) *node { return &node{j: &j} }),
			fxmodule.Service("c", func() *node { return &node{j: &j} }),
		)
		app.RequireStart().RequireStop()
		assert.Equal(t, []string{"start c", "start b", "start a", "stop a", "stop b", "stop c"}, j.get())
	})
	t.Run("diamond", func(t *testing.T) {
		t.Parallel()
		var j journal
		logger, _ := observed(t)
		type topIn struct {
			fx.In
			Left  *node `name:"left"`
			Right *node `name:"right"`
		}
		type sideIn struct {
			fx.In
			Base *node `name:"base"`
		}
		app := newApp(t, logger,
			fxmodule.Service("top", func(topIn) *node { return &node{j: &j} }),
			fxmodule.Service("left", func(sideIn) *node { return &node{j: &j} }),
			fxmodule.Service("right", func(sideIn) *node { return &node{j: &j} }),
			fxmodule.Service("base", func() *node { return &node{j: &j} }),
		)
		app.RequireStart().RequireStop()
		steps := j.get()
		require.Len(t, steps, 8)
		assert.Equal(t, "start base", steps[0])
		assert.ElementsMatch(t, []string{"start left", "start right"}, steps[1:3])
		assert.Equal(t, "start top", steps[3])
		assert.Equal(t, "stop top", steps[4])
		assert.ElementsMatch(t, []string{"stop left", "stop right"}, steps[5:7])
		assert.Equal(t, "stop base", steps[7])
		// Stops are the reverse of starts.
		for i := range 4 {
			assert.Equal(t, steps[i][len("start "):], steps[7-i][len("stop "):])
		}
	})
}

func TestAServiceNobodyInjectsStillStarts(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	app := newApp(t, logger, fxmodule.Service("lonely", func() *node { return &node{j: &j} }))
	app.RequireStart().RequireStop()
	assert.Equal(t, []string{"start lonely", "stop lonely"}, j.get())
}

func TestTwoServicesOfOneTypeUnderTwoNames(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	type both struct {
		fx.In
		Primary *node `name:"primary"`
		Replica *node `name:"replica"`
	}
	var got both
	app := newApp(t, logger,
		fxmodule.Service("primary", func() *node { return &node{j: &j} }),
		fxmodule.Service("replica", func() *node { return &node{j: &j} }),
		fx.Invoke(func(b both) { got = b }),
	)
	app.RequireStart()
	assert.Equal(t, "primary", got.Primary.Name())
	assert.Equal(t, "replica", got.Replica.Name())
	assert.NotSame(t, got.Primary, got.Replica)
	app.RequireStop()
}

// Mailer is an interface a service is provided as.
type Mailer interface{ Send(to string) error }

type emailService struct {
	sprag.Service
	sent []string
}

func (e *emailService) Send(to string) error {
	e.sent = append(e.sent, to)
	return nil
}

func TestServiceProvidedAsAnInterface(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	type in struct {
		fx.In
		Mailer Mailer        `name:"email"`
		Email  *emailService `name:"email"`
	}
	var got in
	app := newApp(t, logger,
		fxmodule.Service("email", func() *emailService { return &emailService{} }, fxmodule.As(new(Mailer))),
		fx.Invoke(func(p in) { got = p }),
	)
	app.RequireStart()
	require.NoError(t, got.Mailer.Send("ada@example.com"))
	assert.Equal(t, []string{"ada@example.com"}, got.Email.sent, "the interface and the concrete type are one service")
	app.RequireStop()
	assert.Equal(t, "fxmodule.As(new(fxmodule_test.Mailer))", fxmodule.As(new(Mailer)).String())
}

func TestServicesAreRegisteredAndRunWithTheAppsRuntime(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	var registry *sprag.Registry
	var rt sprag.Runtime
	app := newApp(t, logger,
		fxmodule.Service("a", func() *node { return &node{j: &j} }),
		fx.Populate(&registry, &rt),
	)
	app.RequireStart()
	svc, err := sprag.Get[*node](registry, "a")
	require.NoError(t, err)
	assert.Equal(t, sprag.Running, svc.State())
	assert.Same(t, rt.Bus, svc.Runtime().Bus)
	assert.Same(t, logger, rt.Logger)
	app.RequireStop()
	assert.Equal(t, sprag.Stopped, svc.State())
}

func TestProvidersMapRegistersInNameOrder(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	var registry *sprag.Registry
	app := newApp(t, logger,
		fxmodule.Providers(map[string]any{
			"metrics": func() *node { return &node{j: &j} },
			"email":   func() *node { return &node{j: &j} },
			"audit":   func() *node { return &node{j: &j} },
		}),
		fx.Populate(&registry),
	)
	app.RequireStart().RequireStop()
	assert.Equal(t, []string{"audit", "email", "metrics"}, registry.Names())
	assert.Equal(t, []string{"start audit", "start email", "start metrics", "stop metrics", "stop email", "stop audit"}, j.get())
}

func TestVariadicConstructor(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	app := newApp(t, logger, fxmodule.Service("v", func(tags ...string) *node { return &node{j: &j} }))
	app.RequireStart().RequireStop()
	assert.Equal(t, []string{"start v", "stop v"}, j.get())
}

func TestChainParamsAreOptional(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	app := newApp(t, logger, fxmodule.Service("solo", func(p chainParams) *node {
		assert.Nil(t, p.Next)
		return &node{j: &j}
	}))
	app.RequireStart().RequireStop()
}

// catalogUser takes the catalog by type in each of the ways a constructor
// can: a plain parameter, an fx.In field, an optional field.
type catalogFields struct {
	fx.In
	Catalog  *Catalog
	Optional *Checkout `optional:"true"`
	Named    *Catalog  `name:"catalog"`
}

type catalogUser struct {
	sprag.Service
	plain  *Catalog
	fields catalogFields
}

func TestAServiceProvidedOnceIsTakenByType(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	var user *catalogUser
	var ctrl *typedController
	var registry *sprag.Registry
	app := newApp(t, logger,
		fxmodule.Service("user", func(c *Catalog, f catalogFields) *catalogUser {
			user = &catalogUser{plain: c, fields: f}
			return user
		}),
		fxmodule.Service("catalog", NewCatalog),
		fxmodule.Controllers(func(c *Catalog) *typedController {
			ctrl = &typedController{catalog: c}
			return ctrl
		}),
		localAddr,
		fx.Populate(&registry),
	)
	app.RequireStart()
	catalog, err := sprag.Get[*Catalog](registry, "catalog")
	require.NoError(t, err)
	assert.Same(t, catalog, user.plain, "a plain parameter")
	assert.Same(t, catalog, user.fields.Catalog, "an fx.In field")
	assert.Same(t, catalog, user.fields.Named, "the name stays available")
	assert.Nil(t, user.fields.Optional, "an optional field of a type no service has")
	assert.Same(t, catalog, ctrl.catalog, "a controller")
	assert.Equal(t, []string{"catalog", "user", "http"}, registry.Names(), "a service taken by type is constructed, and so started, first")
	app.RequireStop()
}

type typedController struct{ catalog *Catalog }

func (*typedController) Route() string                                           { return "GET /typed" }
func (*typedController) Load(context.Context, *controllers.Request) (any, error) { return nil, nil }

func TestParamTagsNameTheConstructorsParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give fx.Option
	}{
		{"fxmodule.ParamTags", fxmodule.Service("checkout", NewCheckout, fxmodule.ParamTags(`name:"archive"`))},
		{"fx.Annotate with fx.ParamTags", fxmodule.Service("checkout", fx.Annotate(NewCheckout, fx.ParamTags(`name:"archive"`)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, _ := observed(t)
			var checkout *Checkout
			var archive *Catalog
			app := newApp(t, logger,
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Service("archive", NewCatalog),
				tt.give,
				fx.Populate(fx.Annotate(&checkout, fx.ParamTags(`name:"checkout"`)), fx.Annotate(&archive, fx.ParamTags(`name:"archive"`))),
			)
			app.RequireStart()
			assert.Same(t, archive, checkout.catalog)
			app.RequireStop()
		})
	}
	assert.Equal(t, "fxmodule.ParamTags(\"name:\\\"archive\\\"\", \"\")", fxmodule.ParamTags(`name:"archive"`, "").String())
}

func TestParamTagsMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give fx.Option
		want string
	}{
		{"more tags than parameters", fxmodule.Service("catalog", NewCatalog, fxmodule.ParamTags(`name:"a"`)),
			"1 parameter tags for 0 parameters: give one tag per parameter, in order"},
		{"a malformed tag", fxmodule.Service("checkout", NewCheckout, fxmodule.ParamTags(`name:catalog`)),
			"parameter tag 0 \"name:catalog\": want key:\"value\" pairs"},
		{"an unknown key", fxmodule.Service("checkout", NewCheckout, fxmodule.ParamTags(`nom:"catalog"`)),
			"parameter tag 0 \"nom:\\\"catalog\\\"\": unknown key \"nom\": the keys are name, group and optional"},
		{"a tag on an fx.In parameter", fxmodule.Service("quotes", NewQuotes, fxmodule.ParamTags(`name:"prices"`)),
			"parameter tag 0 \"name:\\\"prices\\\"\": parameter 0 is an fx.In struct, whose fields carry their own tags"},
		{"fxmodule.ParamTags and fx.ParamTags", fxmodule.Service("checkout", fx.Annotate(NewCheckout, fx.ParamTags(`name:"a"`)), fxmodule.ParamTags(`name:"b"`)),
			"has fx.ParamTags and fxmodule.ParamTags too: give the tags once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, _ := observed(t)
			err := fxmodule.App(fx.Supply(logger), tt.give).Err()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestServiceWithoutModule(t *testing.T) {
	t.Parallel()
	for _, give := range []fx.Option{fxmodule.Service("catalog", NewCatalog), fxmodule.Controllers(NewShopPageFixed)} {
		err := fx.New(fx.NopLogger, give).Err()
		require.EqualError(t, err, "fxmodule.Service and fxmodule.Controllers need fxmodule.Module, "+
			"which checks, constructs and runs the services: add it to fx.New, first, or build the app with fxmodule.App")
	}
}

// ring is a service of a cycle: it takes the service named next.
type ring struct{ sprag.Service }

func ringService(name, next string) fx.Option {
	return fxmodule.Service(name, func(*ring) *ring { return &ring{} }, fxmodule.ParamTags(`name:"`+next+`"`))
}

func TestAppReportsCycles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give []fx.Option
		want string
	}{
		{"three services", []fx.Option{ringService("a", "b"), fx.Options(ringService("b", "c"), ringService("c", "a"))},
			`takes, through others, services that take it in turn, "b" (`},
		{"a service that takes its own name", []fx.Option{ringService("a", "a")},
			`takes itself, by its own name "a", so fx cannot construct it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, _ := observed(t)
			err := fxmodule.App(append(tt.give, fx.Supply(logger))...).Err()
			var we *fxmodule.WiringError
			require.ErrorAs(t, err, &we)
			assert.Equal(t, "a", we.Service)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n", "one mistake, one line")
		})
	}
}
