package controllers

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
)

// panicky is a controller whose Route or Actions panics.
type panicky struct{ inActions bool }

func (p *panicky) Route() string {
	if !p.inActions {
		panic("no route today")
	}
	return "GET /panicky"
}

func (p *panicky) Load(context.Context, *Request) (any, error) { return nil, nil }

func (p *panicky) Actions() []*ActionHandler { panic("no actions today") }

func noop(context.Context, *Request, struct{}) (any, error) { return nil, nil }

func TestMountRefusesMistakes(t *testing.T) {
	t.Parallel()
	var nilLoader *loader
	tests := []struct {
		name      string
		give      []Controller
		wantErr   error
		wantTexts []string
	}{
		{
			name: "nil controller", give: []Controller{nil},
			wantErr: ErrNilController, wantTexts: []string{"mount controller <nil>"},
		},
		{
			name: "typed nil controller", give: []Controller{nilLoader},
			wantErr: ErrNilController, wantTexts: []string{"mount controller *controllers.loader"},
		},
		{
			name: "no route", give: []Controller{&static{route: ""}},
			wantErr: ErrNoRoute, wantTexts: []string{"mount controller *controllers.static"},
		},
		{
			name: "malformed pattern", give: []Controller{&static{route: "GET /x/{id"}},
			wantErr:   ErrInvalidRoute,
			wantTexts: []string{"mount controller *controllers.static", `route "GET /x/{id"`, "bad wildcard segment"},
		},
		{
			name: "invalid method", give: []Controller{&static{route: "GE(T /x"}},
			wantErr: ErrInvalidRoute, wantTexts: []string{"*controllers.static", `invalid method "GE(T"`},
		},
		{
			name: "duplicate wildcard", give: []Controller{&static{route: "/a/{x}/{x}"}},
			wantErr: ErrInvalidRoute, wantTexts: []string{`route "GET /a/{x}/{x}"`, "duplicate wildcard"},
		},
		{
			name:    "same pattern twice",
			give:    []Controller{&static{route: "GET /dup"}, &loader{route: "GET /dup"}},
			wantErr: ErrRouteConflict,
			wantTexts: []string{
				`mount controller *controllers.loader: route "GET /dup" of controller *controllers.loader conflicts with route "GET /dup" of controller *controllers.static`,
			},
		},
		{
			name:    "same paths, different wildcard names",
			give:    []Controller{&static{route: "GET /o/{id}"}, &loader{route: "GET /o/{oid}"}},
			wantErr: ErrRouteConflict, wantTexts: []string{`"GET /o/{oid}" of controller *controllers.loader conflicts with route "GET /o/{id}"`},
		},
		{
			name:    "neither more specific",
			give:    []Controller{&static{route: "GET /a/{x}"}, &loader{route: "GET /{y}/b"}},
			wantErr: ErrRouteConflict, wantTexts: []string{`route "GET /{y}/b" of controller *controllers.loader conflicts with route "GET /a/{x}" of controller *controllers.static`},
		},
		{
			name:    "built-in route",
			give:    []Controller{&static{route: "/healthz"}},
			wantErr: ErrRouteConflict, wantTexts: []string{`conflicts with built-in route "GET /healthz"`},
		},
		{
			name: "action collides with a route",
			give: []Controller{
				&static{route: "POST /orders/{id}/pay"},
				&loader{route: "GET /orders/{id}", actions: []*ActionHandler{Action("pay", noop)}},
			},
			wantErr:   ErrRouteConflict,
			wantTexts: []string{`action "pay" ("POST /orders/{id}/pay") of controller *controllers.loader conflicts with route "POST /orders/{id}/pay" of controller *controllers.static`},
		},
		{
			name:    "action name used twice",
			give:    []Controller{&loader{route: "GET /o", actions: []*ActionHandler{Action("pay", noop), Action("pay", noop)}}},
			wantErr: ErrInvalidAction, wantTexts: []string{`mount controller *controllers.loader: action "pay"`, "used twice"},
		},
		{
			name:    "action name not a segment",
			give:    []Controller{&loader{route: "GET /o", actions: []*ActionHandler{Action("pay/now", noop)}}},
			wantErr: ErrInvalidAction, wantTexts: []string{`action "pay/now"`},
		},
		{
			name:    "empty action name",
			give:    []Controller{&loader{route: "GET /o", actions: []*ActionHandler{Action("", noop)}}},
			wantErr: ErrInvalidAction, wantTexts: []string{`action ""`},
		},
		{
			name:    "wildcard action name",
			give:    []Controller{&loader{route: "GET /o", actions: []*ActionHandler{Action("{x}", noop)}}},
			wantErr: ErrInvalidAction,
		},
		{
			name:    "nil action",
			give:    []Controller{&loader{route: "GET /o", actions: []*ActionHandler{nil}}},
			wantErr: ErrInvalidAction, wantTexts: []string{"action 0", "nil action"},
		},
		{
			name: "nil action function",
			give: []Controller{&loader{route: "GET /o", actions: []*ActionHandler{
				Action[struct{}]("go", nil),
			}}},
			wantErr: ErrInvalidAction, wantTexts: []string{`action "go"`, "nil function"},
		},
		{
			name:    "action after a rest wildcard",
			give:    []Controller{&loader{route: "GET /files/{path...}", actions: []*ActionHandler{Action("upload", noop)}}},
			wantErr: ErrInvalidAction, wantTexts: []string{`route "GET /files/{path...}" ends in a multi-segment wildcard`},
		},
		{
			name:    "route panics",
			give:    []Controller{&panicky{}},
			wantErr: nil, wantTexts: []string{"mount controller *controllers.panicky: route: panic: no route today"},
		},
		{
			name:    "actions panic",
			give:    []Controller{&panicky{inActions: true}},
			wantErr: nil, wantTexts: []string{"mount controller *controllers.panicky: actions: panic: no actions today"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServerForTest(t)
			before := srv.Routes()
			var err error
			require.NotPanics(t, func() { err = srv.Mount(tt.give...) })
			require.Error(t, err)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
			for _, text := range tt.wantTexts {
				assert.Contains(t, err.Error(), text)
			}
			assert.Equal(t, before, srv.Routes(), "a failed Mount mounts nothing")
		})
	}
}

func TestMountReportsEveryMistake(t *testing.T) {
	t.Parallel()
	srv := newServerForTest(t)
	err := srv.Mount(&static{route: ""}, &loader{route: "GET /x/{"}, &static{route: "GET /ok"}, &loader{route: "GET /ok"})
	require.ErrorIs(t, err, ErrNoRoute)
	require.ErrorIs(t, err, ErrInvalidRoute)
	require.ErrorIs(t, err, ErrRouteConflict)
}

func TestMountIsAllOrNothing(t *testing.T) {
	t.Parallel()
	srv := newServerForTest(t)
	require.NoError(t, srv.Mount(&static{route: "GET /first", data: 1}))

	err := srv.Mount(&static{route: "GET /second", data: 2}, &loader{route: "GET /first"})
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.Equal(t, http.StatusNotFound, serve(srv, http.MethodGet, "/second", nil).Code, "nothing of the failed Mount is served")
	assert.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/first", nil).Code, "earlier routes still are")
	assert.Equal(t, []string{HealthzRoute, ReadyzRoute, "GET /first"}, srv.Routes())
}

func TestFailedMountKeepsTheServerFromStarting(t *testing.T) {
	t.Parallel()
	srv, err := NewServer(nil, WithAddr("127.0.0.1:0"))
	require.NoError(t, err)
	mountErr := srv.Mount(&static{route: "GET /x/{"})
	require.Error(t, mountErr)
	require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))

	err = srv.Start(context.Background())
	require.ErrorIs(t, err, ErrInvalidRoute)
	assert.Contains(t, err.Error(), "*controllers.static")
	assert.Equal(t, sprag.Failed, srv.State())
	assert.NoError(t, srv.Stop(context.Background()))
}

func TestActionAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want string
	}{
		{"GET /orders/{id}", "POST /orders/{id}/cancel"},
		{"GET /orders", "POST /orders/cancel"},
		{"GET /orders/", "POST /orders/cancel"},
		{"GET /orders/{$}", "POST /orders/cancel"},
		{"GET /", "POST /cancel"},
		{"GET /{$}", "POST /cancel"},
		{"GET  \t/spaced", "POST /spaced/cancel"},
		{"GET example.com/shop", "POST example.com/shop/cancel"},
		{"/plain", "POST /plain/cancel"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			srv := newServerForTest(t)
			require.NoError(t, srv.Mount(&loader{route: tt.give, actions: []*ActionHandler{Action("cancel", noop)}}))
			assert.Contains(t, srv.Routes(), tt.want)
		})
	}
}

func TestHandle(t *testing.T) {
	t.Parallel()
	srv := newServerForTest(t)
	var seen string
	require.NoError(t, srv.Handle("/raw/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestID(r.Context()) + " " + r.Pattern
		w.WriteHeader(http.StatusAccepted)
	})))
	rec := serve(srv, http.MethodPut, "/raw/x", nil, HeaderRequestID, "h-1")
	assert.Equal(t, http.StatusAccepted, rec.Code, "a pattern without a method matches every method")
	assert.Equal(t, "h-1 /raw/", seen)

	err := srv.Handle("/raw/", http.NotFoundHandler())
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.Contains(t, err.Error(), `handle http.HandlerFunc: route "/raw/" of handler http.HandlerFunc conflicts with route "/raw/" of handler http.HandlerFunc`)

	require.ErrorIs(t, srv.Handle("", http.NotFoundHandler()), ErrNoRoute)
	require.ErrorIs(t, srv.Handle("/n", nil), ErrNilController)
	var nilFunc http.HandlerFunc
	require.ErrorIs(t, srv.Handle("/n", nilFunc), ErrNilController)
	err = srv.Handle("GET /{", http.NotFoundHandler())
	require.ErrorIs(t, err, ErrInvalidRoute)
	assert.Contains(t, err.Error(), `handle http.HandlerFunc: route "GET /{"`)
}

func TestMountWhileServing(t *testing.T) {
	t.Parallel()
	srv := newServerForTest(t)
	require.NoError(t, srv.Mount(&static{route: "GET /always", data: "yes"}))

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if rec := serve(srv, http.MethodGet, "/always", nil); rec.Code != http.StatusOK {
					t.Errorf("status %d while mounting", rec.Code)
					return
				}
			}
		}()
	}
	for i := range 20 {
		require.NoError(t, srv.Mount(&static{route: "GET /late/" + string(rune('a'+i)), data: i}))
	}
	close(stop)
	wg.Wait()
	assert.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/late/t", nil).Code)
}

// panickyMiddleware is a controller whose Middleware panics.
type panickyMiddleware struct{ loader }

func (panickyMiddleware) Middleware() []Middleware { panic("no middleware today") }

func TestMountPanicsArePanicErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give Controller
		want string // the panic value
	}{
		{"Route", &panicky{}, "no route today"},
		{"Actions", &panicky{inActions: true}, "no actions today"},
		{"Middleware", &panickyMiddleware{loader{route: "GET /m"}}, "no middleware today"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := newServerForTest(t).Mount(tt.give)
			var pe *sprag.PanicError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.want, pe.Value)
			assert.Contains(t, string(pe.Stack), "panicky", "the stack of the panic")
		})
	}
}
