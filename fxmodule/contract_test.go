package fxmodule_test

// Tests of promises of the package's doc comments, docs/fx.md and
// docs/wiring-errors.md that the other tests leave unchecked. The file's
// name sorts before http.go: TestAServiceNamedHTTPIsReportedOnItself
// relies on it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// plainApp builds an fx.New app with the module, a silent logger and opts.
func plainApp(opts ...fx.Option) *fx.App {
	return fx.New(append([]fx.Option{fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger}, opts...)...)
}

func TestTheWiringIsCheckedBeforeAnythingIsConstructed(t *testing.T) {
	t.Parallel()
	for _, build := range []func(...fx.Option) error{
		func(opts ...fx.Option) error { return fxmodule.App(append(opts, fx.Supply(zap.NewNop()))...).Err() },
		func(opts ...fx.Option) error { return plainApp(opts...).Err() },
	} {
		constructed, invoked := 0, 0
		err := build(
			fxmodule.Service("catalog", func() *Catalog { constructed++; return &Catalog{} }),
			fxmodule.Service("shop", func(ShopParams) *Checkout { constructed++; return &Checkout{} }), // "catlog"
			fx.Invoke(func(ShopParamsFixed) { invoked++ }),
		)
		var we *fxmodule.WiringError
		require.ErrorAs(t, err, &we)
		assert.Equal(t, "shop", we.Service)
		assert.Zero(t, constructed, "no constructor ran")
		assert.Zero(t, invoked, "no invoke of the app's ran")
	}
}

func TestSeveralMistakesAreJoinedInSourceOrder(t *testing.T) {
	t.Parallel()
	// Declared in the opposite order of their constructors' lines.
	opts := []fx.Option{
		fxmodule.Service("prices", NewPrices),        // mistakes_test.go:34
		fxmodule.Service("catalog", NewCatalogValue), // mistakes_test.go:24
		fxmodule.Service("cart", NewCart),            // mistakes_test.go:29
	}
	err := fxmodule.App(append(opts, fx.Supply(zap.NewNop()))...).Err()
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 3, "one line per mistake: %s", err)
	assert.True(t, strings.HasPrefix(lines[0], `service "catalog" (fxmodule_test.NewCatalogValue at mistakes_test.go:24)`), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], `service "cart" (fxmodule_test.NewCart at mistakes_test.go:29)`), lines[1])
	assert.True(t, strings.HasPrefix(lines[2], `service "prices" (fxmodule_test.NewPrices at mistakes_test.go:34)`), lines[2])
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "errors.Join")
	for _, e := range joined.Unwrap() {
		var we *fxmodule.WiringError
		require.ErrorAs(t, e, &we)
	}

	perr := plainApp(opts...).Err()
	require.Error(t, perr)
	assert.Contains(t, perr.Error(), err.Error(), "fx.New's error holds the same message")
}

func TestWiringErrorFields(t *testing.T) {
	t.Parallel()
	err := plainApp(fxmodule.Service("catalog", NewCatalogValue)).Err()
	var we *fxmodule.WiringError
	require.ErrorAs(t, err, &we)
	assert.Equal(t, "catalog", we.Service)
	assert.Equal(t, "fxmodule_test.NewCatalogValue", we.Constructor)
	assert.True(t, filepath.IsAbs(we.File), we.File)
	assert.Equal(t, "mistakes_test.go", filepath.Base(we.File))
	assert.Equal(t, 24, we.Line)
	require.Error(t, we.Err)
	assert.Equal(t, `service "catalog" (fxmodule_test.NewCatalogValue at mistakes_test.go:24): `+we.Err.Error(), we.Error())
	assert.Same(t, we.Err, errors.Unwrap(we))

	err = fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service("catalog", NewCatalog), fxmodule.Controllers(NewShopPage), localAddr).Err()
	require.ErrorAs(t, err, &we)
	assert.Empty(t, we.Service, "a controller's")
	assert.Equal(t, "fxmodule_test.NewShopPage", we.Constructor)
	assert.Equal(t, 58, we.Line)
	assert.True(t, strings.HasPrefix(we.Error(), "controller fxmodule_test.NewShopPage at mistakes_test.go:58: "), we.Error())
}

// TestAWiringErrorWithoutErrDoesNotPanic: a WiringError built by hand,
// without Err, or a nil one, still has a message.
func TestAWiringErrorWithoutErrDoesNotPanic(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `service "catalog": the wiring is wrong`, (&fxmodule.WiringError{Service: "catalog"}).Error())
	assert.Equal(t, `service "catalog" (main.NewCatalog at /src/main.go:3): the wiring is wrong`,
		(&fxmodule.WiringError{Service: "catalog", Constructor: "main.NewCatalog", File: "/src/main.go", Line: 3}).Error())
	var nilErr *fxmodule.WiringError
	assert.Equal(t, "<nil>", nilErr.Error())
	assert.NoError(t, (&fxmodule.WiringError{}).Unwrap())
}

func TestANameGivenTwiceWrapsErrDuplicateName(t *testing.T) {
	t.Parallel()
	opts := []fx.Option{fxmodule.Service("catalog", NewCatalog), fxmodule.Service("catalog", NewPriceList)}
	require.ErrorIs(t, fxmodule.App(append(opts, fx.Supply(zap.NewNop()))...).Err(), sprag.ErrDuplicateName)
	require.ErrorIs(t, plainApp(opts...).Err(), sprag.ErrDuplicateName)
	// Two of one type: App reports it, fx.New in its own words.
	same := []fx.Option{fxmodule.Service("catalog", NewCatalog), fxmodule.Service("catalog", NewCatalog), fx.Supply(zap.NewNop())}
	require.ErrorIs(t, fxmodule.App(same...).Err(), sprag.ErrDuplicateName)
}

// newHTTPCatalog is declared in this file, which sorts before http.go,
// where the HTTP server's constructor is.
func newHTTPCatalog() *Catalog { return &Catalog{} }

// TestAServiceNamedHTTPIsReportedOnItself: "http" is the name of the
// app's HTTP server; a service of the app's with that name is the
// mistake, named with its own constructor, whatever the files' order.
func TestAServiceNamedHTTPIsReportedOnItself(t *testing.T) {
	t.Parallel()
	for _, opts := range [][]fx.Option{
		{fxmodule.Service(fxmodule.HTTPServiceName, newHTTPCatalog)},
		{fxmodule.Service(fxmodule.HTTPServiceName, newHTTPCatalog), fxmodule.Controllers(), localAddr},
	} {
		err := fxmodule.App(append(opts, fx.Supply(zap.NewNop()))...).Err()
		var we *fxmodule.WiringError
		require.ErrorAs(t, err, &we)
		assert.Equal(t, "fxmodule_test.newHTTPCatalog", we.Constructor, "the app's constructor, not fxmodule's")
		require.ErrorIs(t, err, sprag.ErrDuplicateName)
		assert.Contains(t, err.Error(), `"http" is the name of the app's HTTP server (fxmodule.HTTPServiceName): give the service another name`)
		assert.NotContains(t, err.Error(), "newServer")
	}
}

func TestFxAnnotateIsRefusedWithWhatToUseInstead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give fx.Option
		want string
	}{
		{fxmodule.Service("catalog", fx.Annotate(NewCatalog, fx.As(new(fmt.Stringer)))),
			"is annotated with fx.As: use fxmodule.As(new(Interface)) instead"},
		{fxmodule.Service("checkout", fx.Annotate(NewCheckout, fx.From(new(*Catalog)))),
			"is annotated with fx.From: take the interface in the constructor's own parameters instead"},
		{fxmodule.Service("catalog", fx.Annotate(NewCatalog, fx.OnStart(func() error { return nil }))),
			"is annotated with fx.OnStart and fx.OnStop: give the service OnStart and OnStop methods instead"},
		{fxmodule.Service("catalog", fx.Annotate(NewCatalog, fx.OnStop(func() error { return nil }))),
			"is annotated with fx.OnStart and fx.OnStop: give the service OnStart and OnStop methods instead"},
		{fxmodule.Service("catalog", fx.Annotated{Target: NewCatalog}),
			"fx.Annotated is not a constructor: pass the function, with fxmodule.ParamTags for its parameters"},
	}
	for _, tt := range tests {
		err := fxmodule.App(fx.Supply(zap.NewNop()), tt.give).Err()
		var we *fxmodule.WiringError
		require.ErrorAs(t, err, &we, tt.want)
		assert.Contains(t, err.Error(), tt.want)
		assert.NotContains(t, err.Error(), "\n")
	}
}

// Parameters that dig refuses when fx.New provides the constructor.
type (
	catalogIn struct {
		fx.In
		Catalog *Catalog `name:"catalog"`
	}
	catalogOut struct {
		fx.Out
		Catalog *Catalog `name:"catalog"`
	}
	unexportedIn struct {
		fx.In
		catalog *Catalog `name:"catalog"` //nolint:unused // fx cannot fill it: the mistake
	}
	unexportedByTypeIn struct {
		fx.In
		Catalog *Catalog
		archive *Catalog `name:"catalog"` //nolint:unused // as above
	}
	ignoredIn struct {
		fx.In   `ignore-unexported:"true"`
		Catalog *Catalog
		note    string //nolint:unused // ignored by fx, as its fx.In's tag allows
	}
	badOptionalIn struct {
		fx.In
		Catalog *Catalog `name:"catalog" optional:"maybe"`
	}
	groupNotSliceIn struct {
		fx.In
		Catalog *Catalog `group:"catalogs"`
	}
	unexportedEmbedIn struct{ baseCatalogIn }
	baseCatalogIn     struct {
		fx.In
		Catalog *Catalog
	}
)

// TestParametersFxWouldRefuseAreWiringErrors: each is one WiringError
// naming the user's constructor, and fx.New's error never names the
// function fxmodule builds with reflect, nor carries a stack.
func TestParametersFxWouldRefuseAreWiringErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give fx.Option
		want string
	}{
		{"a pointer to an fx.In struct", fxmodule.Service("q", func(*catalogIn) *Checkout { return &Checkout{} }),
			"parameter 0: *fxmodule_test.catalogIn is a pointer to an fx.In struct: take the struct itself"},
		{"an fx.Out struct", fxmodule.Service("q", func(catalogOut) *Checkout { return &Checkout{} }),
			"parameter 0: fxmodule_test.catalogOut is an fx.Out struct"},
		{"an unexported field", fxmodule.Service("q", func(unexportedIn) *Checkout { return &Checkout{} }),
			"parameter 0: fxmodule_test.unexportedIn.catalog is unexported, and fx fills only exported fields"},
		{"an unexported field beside one taken by type", fxmodule.Service("q", func(unexportedByTypeIn) *Checkout { return &Checkout{} }),
			"parameter 0: fxmodule_test.unexportedByTypeIn.archive is unexported"},
		{"an unexported embedded fx.In struct", fxmodule.Service("q", func(unexportedEmbedIn) *Checkout { return &Checkout{} }),
			"parameter 0: fxmodule_test.unexportedEmbedIn.baseCatalogIn is unexported"},
		{"optional that is not a bool", fxmodule.Service("q", func(badOptionalIn) *Checkout { return &Checkout{} }),
			"parameter 0: fxmodule_test.badOptionalIn.Catalog: `optional:\"maybe\"`: want true or false"},
		{"a group that is not a slice", fxmodule.Service("q", func(groupNotSliceIn) *Checkout { return &Checkout{} }),
			"`group:\"catalogs\"` on a *fxmodule_test.Catalog: a group is taken as a slice"},
		{"a parameter tag with a group on a pointer", fxmodule.Service("q", NewCheckout, fxmodule.ParamTags(`group:"catalogs"`)),
			"parameter tag 0 \"group:\\\"catalogs\\\"\": `group:\"catalogs\"` on a *fxmodule_test.Catalog: a group is taken as a slice"},
		{"a parameter tag with a name and a group", fxmodule.Service("q", func([]*Catalog) *Checkout { return &Checkout{} }, fxmodule.ParamTags(`name:"a" group:"b"`)),
			"take a group or a name, not both"},
		{"an optional group", fxmodule.Service("q", func([]*Catalog) *Checkout { return &Checkout{} }, fxmodule.ParamTags(`group:"b" optional:"true"`)),
			"a group is never missing, only empty; drop optional"},
		{"a flattened group", fxmodule.Service("q", func([]*Catalog) *Checkout { return &Checkout{} }, fxmodule.ParamTags(`group:"b,flatten"`)),
			"flatten is for results, not parameters"},
		{"an optional tag that is not a bool", fxmodule.Service("q", NewCheckout, fxmodule.ParamTags(`name:"catalog" optional:"yes please"`)),
			"`optional:\"yes please\"`: want true or false"},
		{"a controller's", fxmodule.Controllers(func(*catalogIn) *ShopPage { return &ShopPage{} }),
			"parameter 0: *fxmodule_test.catalogIn is a pointer to an fx.In struct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []fx.Option{fxmodule.Service("catalog", NewCatalog), tt.give, localAddr}
			err := fxmodule.App(append(opts, fx.Supply(zap.NewNop()))...).Err()
			var we *fxmodule.WiringError
			require.ErrorAs(t, err, &we)
			assert.Contains(t, err.Error(), tt.want)
			assert.Regexp(t, `^service "q" \(fxmodule_test\.\S+ at \w+_test\.go:\d+\): |^controller fxmodule_test\.\S+ at contract_test\.go:\d+: `, err.Error(), "the user's constructor and its line")
			assert.NotContains(t, err.Error(), "\n")

			perr := plainApp(opts...).Err()
			require.ErrorAs(t, perr, &we)
			assert.NotContains(t, perr.Error(), "makeFuncStub")
			assert.NotContains(t, perr.Error(), "\n", "no stack")
		})
	}

	// Unexported fields that fx.In allows.
	logger, _ := observed(t)
	var got ignoredIn
	app := newApp(t, logger, fxmodule.Service("catalog", NewCatalog),
		fxmodule.Service("q", func(p ignoredIn) *Checkout { got = p; return &Checkout{} }))
	app.RequireStart().RequireStop()
	assert.NotNil(t, got.Catalog)
}

// CatalogBaseIn is an fx.In struct that others embed.
type CatalogBaseIn struct {
	fx.In
	Catalog *Catalog
	Prices  *PriceList `name:"prices"`
}

// EmbeddingIn is an fx.In struct through the one it embeds, as for dig.
type EmbeddingIn struct {
	CatalogBaseIn
}

func TestAnEmbeddedFxInStructTakesServicesByTypeAndIsChecked(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	var got EmbeddingIn
	var catalog *Catalog
	app := newApp(t, logger,
		fxmodule.Service("catalog", NewCatalog),
		fxmodule.Service("prices", NewPriceList),
		fxmodule.Service("q", func(p EmbeddingIn) *Checkout { got = p; return &Checkout{} }),
		fx.Populate(fx.Annotate(&catalog, fx.ParamTags(`name:"catalog"`))),
	)
	app.RequireStart().RequireStop()
	assert.Same(t, catalog, got.Catalog, "by type")
	assert.NotNil(t, got.Prices, "by name")

	err := fxmodule.App(fx.Supply(zap.NewNop()),
		fxmodule.Service("catalog", NewCatalog),
		fxmodule.Service("q", func(EmbeddingIn) *Checkout { return &Checkout{} })).Err()
	var we *fxmodule.WiringError
	require.ErrorAs(t, err, &we)
	assert.Contains(t, err.Error(), "takes *fxmodule_test.PriceList `name:\"prices\"` (CatalogBaseIn.Prices), but no service is named \"prices\"")
}

// ExtraParams takes a catalog by a name that no fxmodule.Service has.
type ExtraParams struct {
	fx.In
	Catalog *Catalog `name:"extra"`
}

// ExtraOptionalParams takes it through an optional field.
type ExtraOptionalParams struct {
	fx.In
	Catalog *Catalog `name:"extra" optional:"true"`
}

var extraCatalog = fx.Provide(fx.Annotate(NewCatalog, fx.ResultTags(`name:"extra"`)))

func TestServicesFxmoduleDoesNotProvide(t *testing.T) {
	t.Parallel()
	t.Run("by a name, provided with fx.Provide", func(t *testing.T) {
		t.Parallel()
		opts := []fx.Option{extraCatalog, fxmodule.Service("q", func(ExtraParams) *Checkout { return &Checkout{} })}
		err := fxmodule.App(append(opts, fx.Supply(zap.NewNop()))...).Err()
		var we *fxmodule.WiringError
		require.ErrorAs(t, err, &we)
		assert.Equal(t, "q", we.Service)
		assert.Contains(t, err.Error(), "takes *fxmodule_test.Catalog `name:\"extra\"` (ExtraParams.Catalog), but no service is named \"extra\", and none is a *fxmodule_test.Catalog: "+
			"provide it with fxmodule.Service(\"extra\", constructor); a service provided otherwise is never started")
		require.ErrorAs(t, plainApp(opts...).Err(), &we)
	})
	t.Run("through an optional field", func(t *testing.T) {
		t.Parallel()
		opts := []fx.Option{extraCatalog, fxmodule.Service("q", func(ExtraOptionalParams) *Checkout { return &Checkout{} })}
		for _, start := range []func() error{
			func() error {
				return fxmodule.App(append(opts, fx.Supply(zap.NewNop()))...).Start(context.Background())
			},
			func() error { return plainApp(opts...).Start(context.Background()) },
		} {
			err := start()
			var we *fxmodule.WiringError
			require.ErrorAs(t, err, &we)
			assert.Equal(t, "q", we.Service)
			assert.Contains(t, err.Error(), "took *fxmodule_test.Catalog `name:\"extra\"` (ExtraOptionalParams.Catalog), whose *fxmodule_test.Catalog embeds sprag.Service, but no fxmodule.Service provides it and nothing started it")
		}
	})
	t.Run("by type, in the app's own fx.Invoke: fx's to check", func(t *testing.T) {
		t.Parallel()
		err := plainApp(fxmodule.Service("catalog", NewCatalog), fx.Invoke(func(*Catalog) {})).Err()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "missing type: *fxmodule_test.Catalog")
	})
}

// Stamp is a second interface PriceList has.
type Stamp interface{ Price(item string) int }

func TestAsProvidesEachInterfaceUnderTheName(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	type in struct {
		fx.In
		Pricer Pricer     `name:"prices"`
		Stamp  Stamp      `name:"prices"`
		List   *PriceList `name:"prices"`
	}
	var got in
	app := newApp(t, logger,
		fxmodule.Service("prices", NewPriceList, fxmodule.As(new(Pricer), new(Stamp)), fxmodule.As(new(Pricer))),
		fx.Invoke(func(p in) { got = p }))
	app.RequireStart().RequireStop()
	assert.Same(t, got.List, got.Pricer)
	assert.Same(t, got.List, got.Stamp)
}

func TestControllersTakeFxAnnotateWithParamTagsAndReportTheirErrors(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	var page *ShopPage
	var archive *Catalog
	app := newApp(t, logger,
		fxmodule.Service("catalog", NewCatalog),
		fxmodule.Service("archive", NewCatalog),
		fxmodule.Controllers(fx.Annotate(func(c *Catalog) *ShopPage { page = &ShopPage{catalog: c}; return page }, fx.ParamTags(`name:"archive"`))),
		localAddr,
		fx.Populate(fx.Annotate(&archive, fx.ParamTags(`name:"archive"`))),
	)
	app.RequireStart().RequireStop()
	assert.Same(t, archive, page.catalog)

	tests := []struct {
		give fx.Option
		want string
	}{
		{fxmodule.Controllers(func() (*ShopPage, error) { return nil, errors.New("no shop") }), ": no shop"},
		{fxmodule.Controllers(func() *ShopPage { return nil }), "returned a nil *fxmodule_test.ShopPage: return the controller, or an error that says why there is none"},
		{fxmodule.Controllers(nil), "the constructor is nil: pass a function"},
		{fxmodule.Controllers(func() (*ShopPage, int) { return nil, 0 }), "returns 2 results: a controller's constructor returns the controller, and optionally an error"},
	}
	for _, tt := range tests {
		err := fxmodule.App(fx.Supply(zap.NewNop()), tt.give, localAddr).Err()
		var we *fxmodule.WiringError
		require.ErrorAs(t, err, &we, tt.want)
		assert.Empty(t, we.Service)
		assert.True(t, strings.HasPrefix(err.Error(), "controller "), err.Error())
		assert.Contains(t, err.Error(), "contract_test.go:")
		assert.Contains(t, err.Error(), tt.want)
	}
}

func TestFxErrorsNameTheControllersConstructor(t *testing.T) {
	t.Parallel()
	err := plainApp(fxmodule.Controllers(func(CatalogConfig) *ShopPage { return &ShopPage{} }), localAddr).Err()
	require.Error(t, err)
	assert.Regexp(t, `missing dependencies for function "github.com/sprag-go/sprag/fxmodule_test".TestFxErrorsNameTheControllersConstructor.func1 \(\S*contract_test.go:\d+\): missing type: fxmodule_test.CatalogConfig`, err.Error())
	assert.NotContains(t, err.Error(), "makeFuncStub")
}

func TestTheAppsLoggerFromAConstructorIsUsed(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	var rt sprag.Runtime
	app := fx.New(fxmodule.Module, fx.NopLogger, fx.Provide(func() *zap.Logger { return logger }), fx.Populate(&rt))
	require.NoError(t, app.Err())
	assert.Same(t, logger, rt.Logger)
}

// TestFxDebugEventsNameTheServices: fx's events name the constructors
// fxmodule builds after the service they provide.
func TestFxDebugEventsNameTheServices(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	app := fxmodule.App(fx.Supply(zap.New(core)), fxmodule.Service("catalog", NewCatalog))
	require.NoError(t, app.Start(context.Background()))
	require.NoError(t, app.Stop(context.Background()))
	named := false
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			assert.NotContains(t, fmt.Sprint(v), "makeFuncStub", "%s: %s", e.Message, k)
		}
		if e.Message == "provided" && e.ContextMap()["constructor"] == `fxmodule's constructor of *fxmodule_test.Catalog[name = "catalog"]` {
			named = true
		}
	}
	assert.True(t, named, "a provide names the service")
	assert.Zero(t, logs.FilterLevelExact(zap.InfoLevel).FilterLoggerName("fx").Len(), "fx's events of a good run are at debug level")
}

// TestStartWithANilContext: bad input, a clear error.
func TestStartWithANilContext(t *testing.T) {
	t.Parallel()
	var ready *fxmodule.Ready
	app := fxmodule.App(fx.Supply(zap.NewNop()), fx.Populate(&ready))
	require.NoError(t, app.Err())
	var nilCtx context.Context
	require.EqualError(t, app.Start(nilCtx), "start the app: the context is nil")
	require.EqualError(t, ready.Wait(nilCtx), "wait for the app to start: the context is nil")
}

// TestAppStartStopsTheServicesWhenALaterHookOutlastsTheStart: every service
// has started, and a hook of the app's own, appended after theirs, hangs
// past the start's deadline. fx's rollback gets the ended context and
// stops nothing; App's Start stops the services before it returns.
func TestAppStartStopsTheServicesWhenALaterHookOutlastsTheStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		logger, logs := observed(t)
		release := make(chan struct{})
		defer endHang(release) // the hung OnStart returns, and its service is stopped, before the test ends
		first := make(chan stopSeen, 1)
		var s1 *stage
		app := fxmodule.App(fx.Supply(logger), fx.StopTimeout(4*time.Second),
			fxmodule.Service("s1", func() *stage { s1 = &stage{stopCtx: first}; return s1 }),
			fxmodule.Service("s2", func() *stage { return &stage{} }),
			fx.Invoke(func(lc fx.Lifecycle) { lc.Append(fx.StartHook(func() { <-release })) }),
		)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()

		require.ErrorIs(t, app.Start(ctx), context.DeadlineExceeded)

		select {
		case seen := <-first:
			require.NoError(t, seen.err, "OnStop's context had not ended")
			assert.Equal(t, 4*time.Second, seen.deadline, "bounded by the stop timeout")
		default:
			t.Fatal("Start returned with s1 still running")
		}
		assert.Equal(t, sprag.Stopped, s1.State())
		warned := logs.FilterMessage("stopping the services that had started").All()
		require.Len(t, warned, 1)
		assert.Equal(t, zap.WarnLevel, warned[0].Level)
	})
}

// TestStopTimeoutBoundsTheRollback: fxmodule.StopTimeout's d bounds the
// rollback's stops, also beyond fx's default, and given several times,
// the shortest counts, with App as with fx.New.
func TestStopTimeoutBoundsTheRollback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []fx.Option
		app  bool
		want time.Duration
	}{
		{"fx.New, longer than fx's default", []fx.Option{fxmodule.StopTimeout(30 * time.Second)}, false, 30 * time.Second},
		{"fx.New, several", []fx.Option{fxmodule.StopTimeout(9 * time.Second), fxmodule.StopTimeout(3 * time.Second), fxmodule.StopTimeout(20 * time.Second)}, false, 3 * time.Second},
		{"App, several", []fx.Option{fxmodule.StopTimeout(3 * time.Second), fxmodule.StopTimeout(9 * time.Second)}, true, 3 * time.Second},
		{"App, longer than fx's default", []fx.Option{fxmodule.StopTimeout(30 * time.Second)}, true, 30 * time.Second},
		{"App, fx.StopTimeout", []fx.Option{fx.StopTimeout(20 * time.Second)}, true, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				defer endHang(release) // the hung OnStart returns, and its service is stopped, before the test ends
				first := make(chan stopSeen, 1)
				opts := append(chain(release, first), fx.Supply(zap.NewNop()))
				opts = append(opts, tt.opts...)
				var start func(context.Context) error
				if tt.app {
					start = fxmodule.App(opts...).Start
				} else {
					start = fx.New(append(opts, fxmodule.Module, fx.NopLogger)...).Start
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				require.ErrorIs(t, start(ctx), context.DeadlineExceeded)
				seen := <-first
				require.NoError(t, seen.err)
				assert.Equal(t, tt.want, seen.deadline)
			})
		})
	}
}

// slowStop takes 2 seconds to stop.
type slowStop struct{ sprag.Service }

func (*slowStop) OnStop(context.Context) error {
	time.Sleep(2 * time.Second)
	return nil
}

// TestWhenStartReturnsAfterAStartTimeout: App's Start returns once the
// services that had started are stopped; fx.New's at the deadline, while
// they stop.
func TestWhenStartReturnsAfterAStartTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		app  bool
		want time.Duration
	}{{"App", true, 3 * time.Second}, {"fx.New", false, time.Second}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				defer endHang(release) // the hung OnStart returns, and its service is stopped, before the test ends
				slow := &slowStop{}
				opts := []fx.Option{fx.Supply(zap.NewNop()),
					fxmodule.Service("slow", func() *slowStop { return slow }),
					fxmodule.Service("hangs", func() *hangs { return &hangs{release: release} }),
				}
				var start func(context.Context) error
				if tt.app {
					start = fxmodule.App(opts...).Start
				} else {
					start = fx.New(append(opts, fxmodule.Module, fx.NopLogger)...).Start
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				begin := time.Now()
				require.ErrorIs(t, start(ctx), context.DeadlineExceeded)
				assert.Equal(t, tt.want, time.Since(begin))
				<-slow.Done()
				assert.Equal(t, sprag.Stopped, slow.State())
			})
		})
	}
}

// hangs is a service whose OnStart ignores its context until release is
// closed.
type hangs struct {
	sprag.Service
	release chan struct{}
}

func (h *hangs) OnStart(context.Context) error {
	<-h.release
	return nil
}

// TestAServiceThatStartsAfterTheStartEndedIsStopped: the service that hung
// returns from OnStart after the rollback; it is stopped at once.
func TestAServiceThatStartsAfterTheStartEndedIsStopped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		hung := &hangs{release: release}
		app := fxmodule.App(fx.Supply(zap.NewNop()),
			fxmodule.Service("first", func() *stage { return &stage{} }),
			fxmodule.Service("hung", func() *hangs { return hung }))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := app.Start(ctx)
		require.EqualError(t, err, `start service "hung": still starting when the start ended: context deadline exceeded`)
		assert.Equal(t, sprag.Starting, hung.State())

		close(release)
		<-hung.Done()
		assert.Equal(t, sprag.Stopped, hung.State())
	})
}

func TestStartTimeoutLogs(t *testing.T) {
	t.Parallel()
	t.Run("fx.New without LogFxEvents", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			logger, logs := observed(t)
			release := make(chan struct{})
			defer endHang(release) // the hung OnStart returns, and its service is stopped, before the test ends
			app := fx.New(append(chain(release, nil), fxmodule.Module, fx.Supply(logger), fx.NopLogger, fxmodule.StopTimeout(7*time.Second))...)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			require.ErrorIs(t, app.Start(ctx), context.DeadlineExceeded)
			synctest.Wait()

			failed := logs.FilterLevelExact(zap.ErrorLevel).All()
			require.Len(t, failed, 1)
			assert.Equal(t, "the app's start ended before the app was ready", failed[0].Message)
			assert.Equal(t, "s3", failed[0].ContextMap()["service"])
			warned := logs.FilterMessage("stopping the services that had started").All()
			require.Len(t, warned, 1)
			assert.Equal(t, zap.WarnLevel, warned[0].Level)
			assert.Equal(t, []any{"s1", "s2"}, warned[0].ContextMap()["services"])
			assert.Equal(t, 7*time.Second, warned[0].ContextMap()["timeout"])
		})
	})
	t.Run("fx.New with LogFxEvents", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			logger, logs := observed(t)
			release := make(chan struct{})
			defer endHang(release) // the hung OnStart returns, and its service is stopped, before the test ends
			app := fx.New(append(chain(release, nil), fxmodule.Module, fx.Supply(logger), fxmodule.LogFxEvents)...)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			require.ErrorIs(t, app.Start(ctx), context.DeadlineExceeded)
			synctest.Wait()

			failed := logs.FilterLevelExact(zap.ErrorLevel).All()
			require.Len(t, failed, 1, "one line")
			assert.Equal(t, "start failed", failed[0].Message)
			assert.Equal(t, `start service "s3": still starting when the start ended: context deadline exceeded`, failed[0].ContextMap()["error"])
		})
	})
}

func TestStopFailureLogs(t *testing.T) {
	t.Parallel()
	t.Run("hooks that fail before the deadline", func(t *testing.T) {
		t.Parallel()
		core, logs := observer.New(zap.DebugLevel)
		app := fxmodule.App(fx.Supply(zap.New(core)),
			fxmodule.Service("svc", NewCatalog),
			fx.Invoke(func(lc fx.Lifecycle) {
				lc.Append(fx.StopHook(func() error { return errors.New("flush one") }))
				lc.Append(fx.StopHook(func() error { return errors.New("flush two") }))
			}))
		require.NoError(t, app.Start(context.Background()))
		err := app.Stop(context.Background())
		require.ErrorContains(t, err, "flush one", "every hook's error")
		require.ErrorContains(t, err, "flush two")
		failed := logs.FilterLevelExact(zap.ErrorLevel).All()
		require.Len(t, failed, 2, "one line per hook, nothing more")
		for _, e := range failed {
			assert.Equal(t, "OnStop hook failed", e.Message)
		}
	})
	t.Run("a stop past its deadline", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			release := make(chan struct{})
			app := fxmodule.App(fx.Supply(zap.New(core)),
				fxmodule.Service("exporter", func() *node {
					return &node{j: &journal{}, onStart: func(_ context.Context, n *node) error {
						_, err := n.Spawn(func(context.Context) error { <-release; return nil }, sprag.Label("upload"))
						return err
					}}
				}))
			require.NoError(t, app.Start(context.Background()))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			require.ErrorIs(t, app.Stop(ctx), context.DeadlineExceeded)
			synctest.Wait()
			close(release)

			var got []string
			for _, e := range logs.FilterLevelExact(zap.ErrorLevel).All() {
				got = append(got, e.Message+": "+fmt.Sprint(e.ContextMap()["error"]))
			}
			assert.ElementsMatch(t, []string{ // fx logs the hook's failure on the hook's goroutine
				`OnStop hook failed: stop service "exporter": service "exporter": sprag: still running at the stop deadline: task upload`,
				"stop failed: context deadline exceeded",
			}, got)
		})
	})
}

func TestAFailingListenerOfAnAppEventIsLoggedAndIgnored(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	app := fxmodule.App(fx.Supply(zap.New(core)),
		fxmodule.Service("svc", NewCatalog),
		fx.Invoke(func(rt sprag.Runtime) error {
			if _, err := fxmodule.AppStarted.Listen(rt.Bus, func(context.Context, fxmodule.AppEvent) error { return errors.New("boom") }); err != nil {
				return err
			}
			_, err := fxmodule.AppStopping.Listen(rt.Bus, func(context.Context, fxmodule.AppEvent) error { return errors.New("bang") })
			return err
		}))
	require.NoError(t, app.Start(context.Background()), "the hook does not fail")
	require.NoError(t, app.Stop(context.Background()))
	warned := logs.FilterMessage("listener of an app event failed").All()
	require.Len(t, warned, 2)
	for i, topic := range []string{"sprag:app:started", "sprag:app:stopping"} {
		assert.Equal(t, zap.WarnLevel, warned[i].Level)
		assert.Equal(t, topic, warned[i].ContextMap()["topic"])
	}
}

// TestReadyIsClosedWhenALaterHookFailsTheStart: a hook of the app's own
// comes after Ready's, which has closed Done when it fails.
func TestReadyIsClosedWhenALaterHookFailsTheStart(t *testing.T) {
	t.Parallel()
	var j journal
	var ready *fxmodule.Ready
	app := plainApp(
		fxmodule.Service("svc", func() *node { return &node{j: &j} }),
		fx.Populate(&ready),
		fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.StartHook(func() error {
				select {
				case <-ready.Done():
					j.add("ready before the app's hook")
				default:
				}
				return errors.New("late")
			}))
		}),
	)
	require.ErrorContains(t, app.Start(context.Background()), "late")
	select {
	case <-ready.Done():
	default:
		t.Fatal("Done is not closed")
	}
	assert.Equal(t, []string{"start svc", "ready before the app's hook", "stop svc"}, j.get())
}

func TestShutdownOnTaskGiveUpLogsWhatGaveUp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		app := fx.New(fxmodule.Module, fx.Supply(zap.New(core)), fx.NopLogger,
			fxmodule.ShutdownOnTaskGiveUp(7),
			fxmodule.Service("syncer", func() *node {
				return &node{j: &journal{}, onStart: func(_ context.Context, n *node) error {
					_, err := n.Spawn(func(context.Context) error { return errors.New("upstream unavailable") },
						sprag.Label("pull"), sprag.Restart(sprag.RestartPolicy{MaxRestarts: 1, Backoff: time.Second}))
					return err
				}}
			}))
		require.NoError(t, app.Start(context.Background()))
		assert.Equal(t, 7, (<-app.Wait()).ExitCode)
		require.NoError(t, app.Stop(context.Background()))
		entries := logs.FilterMessage("a task gave up: shutting the app down").All()
		require.Len(t, entries, 1)
		assert.Equal(t, zap.ErrorLevel, entries[0].Level)
		fields := entries[0].ContextMap()
		assert.Equal(t, "syncer", fields["service"])
		assert.Equal(t, "pull", fields["label"])
		assert.Equal(t, int64(7), fields["exit_code"])
		assert.Contains(t, fields["error"], "upstream unavailable")
	})
	err := fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.ShutdownOnTaskGiveUp(0)).Err()
	require.EqualError(t, err, "fxmodule.ShutdownOnTaskGiveUp: the exit code must not be 0")
}

// The tests below set environment variables or os.Stderr: none is
// parallel.

// TestSPRAGLogThatIsNeitherDevNorJSONFailsTheApp: fx.New fails; App logs
// the failure once, with the default logger, since the app has none.
func TestSPRAGLogThatIsNeitherDevNorJSONFailsTheApp(t *testing.T) {
	t.Setenv(fxmodule.EnvLog, "verbose")
	want := `SPRAG_LOG="verbose": want "dev" (console logs) or "json" (the default)`
	err := fx.New(fxmodule.Module, fx.NopLogger).Err()
	require.ErrorContains(t, err, want)

	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	app := fxmodule.App()
	os.Stderr = stderr
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())

	require.EqualError(t, app.Err(), want, "the mistake alone")
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 1, string(out))
	assert.Contains(t, lines[0], `"level":"error"`)
	assert.Contains(t, lines[0], `"msg":"the app could not be built"`)
	assert.Contains(t, lines[0], `SPRAG_LOG=\"verbose\"`)
	assert.NotContains(t, lines[0], "stacktrace")

	// An app with a logger of its own keeps it.
	require.NoError(t, fx.New(fxmodule.Module, fx.NopLogger, fx.Supply(zap.NewNop())).Err())
}

func TestAppReadsSPRAGAddrWhenUnset(t *testing.T) {
	t.Setenv(fxmodule.EnvAddr, "") // restored after the test
	require.NoError(t, os.Unsetenv(fxmodule.EnvAddr))
	var server *controllers.Server
	app := fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Controllers(), fx.Populate(fx.Annotate(&server, fx.ParamTags(`name:"http"`))))
	require.NoError(t, app.Err())
	assert.Equal(t, "localhost:8080", server.Addr())
}
