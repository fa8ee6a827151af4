package fxmodule_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
)

var update = flag.Bool("update", false, "rewrite the messages shown in docs/wiring-errors.md from TestWiringErrors")

// wiringErrorsPage is the page that shows the messages of TestWiringErrors.
const wiringErrorsPage = "../docs/wiring-errors.md"

// mistake is a wiring mistake, its message, and its fix.
type mistake struct {
	name      string      // what is wrong
	doc       string      // the section of docs/wiring-errors.md that shows the message, if any
	give      []fx.Option // the app's options, with the mistake
	start     bool        // the mistake shows when the app starts, not when it is built
	appOnly   bool        // only App names it so; fx.New reports it in fx's words
	fromStart bool        // the error is the service's Start's, not a *WiringError
	want      string      // the message: App's Err or Start, and the error logged once
	fixed     []fx.Option // the app fixed, which starts and stops
}

var localAddr = fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0"))

func mistakes() []mistake {
	return []mistake{
		{
			name: "a constructor returns a struct value", doc: "value-result",
			want: `service "catalog" (fxmodule_test.NewCatalogValue at mistakes_test.go:24): returns fxmodule_test.Catalog, a struct value: return *fxmodule_test.Catalog, a pointer, so that the service is not copied`,
			give: []fx.Option{
				fxmodule.Service("catalog", NewCatalogValue),
			},
			fixed: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
			},
		},
		{
			name: "a service embeds *sprag.Service", doc: "pointer-embed",
			want: `service "cart" (fxmodule_test.NewCart at mistakes_test.go:29): returns *fxmodule_test.Cart, which embeds *sprag.Service, a pointer: embed sprag.Service itself, so that each service has its own`,
			give: []fx.Option{
				fxmodule.Service("cart", NewCart),
			},
		},
		{
			name: "a constructor's result does not embed sprag.Service", doc: "not-a-service",
			want: `service "prices" (fxmodule_test.NewPrices at mistakes_test.go:34): returns *fxmodule_test.Prices, which does not embed sprag.Service: embed sprag.Service in the struct and return a pointer to it`,
			give: []fx.Option{
				fxmodule.Service("prices", NewPrices),
			},
			fixed: []fx.Option{
				fx.Provide(NewPrices), // not a service: a value of the app's own
			},
		},
		{
			name: "the constructor is nil", doc: "nil-constructor",
			want: `service "catalog" (fxmodule.Service at mistakes_test.go:189): the constructor is nil: pass a function`,
			give: []fx.Option{
				nilConstructor,
			},
		},
		{
			name: "the constructor is a nil function",
			want: `service "catalog" (fxmodule.Service at mistakes_test.go:190): the constructor is a nil func() *fxmodule_test.Catalog: pass a function`,
			give: []fx.Option{nilFunction},
		},
		{
			name: "the constructor is not a function",
			want: `service "catalog" (fxmodule.Service at mistakes_test.go:191): the constructor is of type fxmodule_test.Catalog, not a function: pass a function`,
			give: []fx.Option{notAFunction},
		},
		{
			name: "the constructor returns something else than the service and an error",
			want: `service "catalog" (fxmodule_test.init.func1 at mistakes_test.go:193): returns (*fxmodule_test.Catalog, int): a service's constructor returns the service, and optionally an error`,
			give: []fx.Option{catalogAndCount},
		},
		{
			name: "the name is empty",
			want: `service "" (fxmodule_test.NewCatalog at mistakes_test.go:21): the name is empty: choose another name`,
			give: []fx.Option{fxmodule.Service("", NewCatalog)},
		},
		{
			name: "the name holds a slash",
			want: `service "shop/catalog" (fxmodule_test.NewCatalog at mistakes_test.go:21): the name "shop/catalog" holds a '/', which joins an adopted child's name to its parent's (parent/child): choose another name`,
			give: []fx.Option{fxmodule.Service("shop/catalog", NewCatalog)},
		},
		{
			name: "As is given something else than a pointer to an interface",
			want: `service "prices" (fxmodule_test.NewPriceList at mistakes_test.go:88): fxmodule.As takes pointers to interfaces, such as fxmodule.As(new(Mailer)), and was given nil`,
			give: []fx.Option{fxmodule.Service("prices", NewPriceList, fxmodule.As(Pricer(nil)))},
		},
		{
			name: "As names an interface the service does not implement",
			want: `service "catalog" (fxmodule_test.NewCatalog at mistakes_test.go:21): *fxmodule_test.Catalog does not implement fxmodule_test.Pricer, which fxmodule.As names`,
			give: []fx.Option{fxmodule.Service("catalog", NewCatalog, fxmodule.As(new(Pricer)))},
		},
		{
			name: "the constructor returns nil", doc: "returns-nil",
			want: `service "catalog" (fxmodule_test.NewCatalogLater at mistakes_test.go:37): returned a nil *fxmodule_test.Catalog: return the service, or an error that says why there is none`,
			give: []fx.Option{
				fxmodule.Service("catalog", NewCatalogLater),
			},
		},
		{
			name: "the constructor fails", doc: "constructor-error",
			want: `service "catalog" (fxmodule_test.NewCatalogFrom at mistakes_test.go:42): CATALOG_PATH is not set`,
			give: []fx.Option{
				fxmodule.Service("catalog", NewCatalogFrom),
				fx.Supply(CatalogConfig{}),
			},
			fixed: []fx.Option{
				fxmodule.Service("catalog", NewCatalogFrom),
				fx.Supply(CatalogConfig{Path: "catalog.json"}),
			},
		},
		{
			name: "a name is misspelled", doc: "name-typo",
			want: "controller fxmodule_test.NewShopPage at mistakes_test.go:58: takes *fxmodule_test.Catalog `name:\"catlog\"` (ShopParams.Catalog), but no service is named \"catlog\": did you mean \"catalog\"? (services that are a *fxmodule_test.Catalog: \"catalog\")",
			give: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Controllers(NewShopPage),
				localAddr,
			},
			fixed: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Controllers(NewShopPageFixed),
				localAddr,
			},
		},
		{
			name: "a service is taken by type, and none is of it", doc: "by-type-none",
			want: `service "checkout" (fxmodule_test.NewCheckout at mistakes_test.go:80): takes *fxmodule_test.Catalog (parameter 0), but no service is a *fxmodule_test.Catalog: provide one with fxmodule.Service(name, constructor); a service provided otherwise is never started`,
			give: []fx.Option{
				fx.Provide(NewCatalog), // not fxmodule.Service: never started
				fxmodule.Service("checkout", NewCheckout),
			},
			fixed: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Service("checkout", NewCheckout),
			},
		},
		{
			name: "a service is taken by type, and two are of it", doc: "by-type-two",
			want: "service \"checkout\" (fxmodule_test.NewCheckout at mistakes_test.go:80): takes *fxmodule_test.Catalog (parameter 0), but 2 services are a *fxmodule_test.Catalog, \"archive\" (fxmodule_test.NewCatalog at mistakes_test.go:21) and \"catalog\" (fxmodule_test.NewCatalog at mistakes_test.go:21): take one by its name, with a `name:\"archive\"` tag (fxmodule.ParamTags for a parameter)",
			give: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Service("archive", NewCatalog),
				fxmodule.Service("checkout", NewCheckout),
			},
			fixed: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Service("archive", NewCatalog),
				fxmodule.Service("checkout", NewCheckout, fxmodule.ParamTags(`name:"catalog"`)),
			},
		},
		{
			name: "a service takes its own type by type",
			want: "service \"catalog\" (fxmodule_test.init.func2 at mistakes_test.go:194): takes *fxmodule_test.Catalog (parameter 0) by type, and is a *fxmodule_test.Catalog itself: take the other service by its name, with a `name:\"…\"` tag",
			give: []fx.Option{catalogFromCatalog},
		},
		{
			name: "an interface is taken by the name of a service not provided as it", doc: "not-as",
			want: "service \"quotes\" (fxmodule_test.NewQuotes at mistakes_test.go:104): takes fxmodule_test.Pricer `name:\"prices\"` (QuoteParams.Prices), but service \"prices\" is not provided as fxmodule_test.Pricer: add fxmodule.As(new(fxmodule_test.Pricer)) to its fxmodule.Service",
			give: []fx.Option{
				fxmodule.Service("prices", NewPriceList),
				fxmodule.Service("quotes", NewQuotes),
			},
			fixed: []fx.Option{
				fxmodule.Service("prices", NewPriceList, fxmodule.As(new(Pricer))),
				fxmodule.Service("quotes", NewQuotes),
			},
		},
		{
			name: "a name is given twice", doc: "duplicate-name",
			want: `service "catalog" (fxmodule_test.NewPriceList at mistakes_test.go:88): sprag: duplicate name: service "catalog" (fxmodule_test.NewCatalog at mistakes_test.go:21) has that name too: give each service its own name`,
			give: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Service("catalog", NewPriceList),
			},
			fixed: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Service("prices", NewPriceList),
			},
		},
		{
			name: "a name is given twice to services of one type", appOnly: true,
			want: `service "catalog" (fxmodule_test.NewCatalog at mistakes_test.go:21): sprag: duplicate name: service "catalog" (fxmodule_test.NewCatalog at mistakes_test.go:21) has that name too: give each service its own name`,
			give: []fx.Option{fxmodule.Service("catalog", NewCatalog), fx.Options(fxmodule.Service("catalog", NewCatalog))},
		},
		{
			name: "two services take each other", doc: "cycle", appOnly: true,
			want: `service "payments" (fxmodule_test.NewPayments at mistakes_test.go:126): takes service "invoices" (fxmodule_test.NewInvoices at mistakes_test.go:128), which takes it in turn, so fx can construct neither: let one find the other when it starts (sprag.Get on the *sprag.Registry, in its OnStart) instead of taking it in its constructor`,
			give: []fx.Option{
				fxmodule.Service("payments", NewPayments),
				fxmodule.Service("invoices", NewInvoices),
			},
			fixed: []fx.Option{
				fxmodule.Service("payments", NewPaymentsFixed),
				fxmodule.Service("invoices", NewInvoicesFixed),
			},
		},
		{
			name: "a parameter has a field that fx cannot fill", doc: "unexported-field",
			want: "service \"stock\" (fxmodule_test.NewStock at mistakes_test.go:210): parameter 0: fxmodule_test.StockParams.catalog is unexported, and fx fills only exported fields: export it, or tag fx.In with `ignore-unexported:\"true\"`",
			give: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Service("stock", NewStock),
			},
			fixed: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Service("stock", NewStockFixed),
			},
		},
		{
			name: "fx.Annotate gives the result a tag", doc: "annotate",
			want: `service "catalog" (fxmodule_test.NewCatalog at mistakes_test.go:21): fx.Annotate(fxmodule_test.NewCatalog, …) is annotated with fx.ResultTags: the service is named by fxmodule.Service; drop it`,
			give: []fx.Option{
				fxmodule.Service("catalog", fx.Annotate(NewCatalog, fx.ResultTags(`name:"catalog"`))),
			},
			fixed: []fx.Option{
				fxmodule.Service("catalog", NewCatalog),
				fxmodule.Service("checkout", fx.Annotate(NewCheckout, fx.ParamTags(`name:"catalog"`))),
			},
		},
		{
			name: "fx.Annotate refused its annotations",
			want: `service "catalog" (fxmodule.Service at mistakes_test.go:192): fx.Annotate failed: tag key is invalid, Use group, name or optional as tag keys`,
			give: []fx.Option{refusedAnnotation},
		},
		{
			name: "a service is taken from a group, and nothing starts it", doc: "unmanaged", start: true,
			want: "service \"reports\" (fxmodule_test.NewReports at mistakes_test.go:162): took []*fxmodule_test.Catalog `group:\"catalogs\"` (ReportsParams.Catalogs), whose *fxmodule_test.Catalog embeds sprag.Service, but no fxmodule.Service provides it and nothing started it: provide it with fxmodule.Service(name, constructor), or adopt it in OnStart",
			give: []fx.Option{
				catalogInGroup,
				fxmodule.Service("reports", NewReports),
			},
			fixed: []fx.Option{
				catalogInGroup,
				fxmodule.Service("archive", NewArchive),
			},
		},
		{
			name: "a managed method is called in the constructor", doc: "managed-call", start: true, fromStart: true,
			want:  "start service \"ticker\": interval (*Ticker).tick called before Start, at fxmodule/ticker_test.go:25 (call it in OnStart): sprag: service not running",
			give:  []fx.Option{fxmodule.Service("ticker", NewEagerTicker)},
			fixed: []fx.Option{fxmodule.Service("ticker", NewTicker)},
		},
		{
			name: "a controller's constructor returns something else than a controller",
			want: `controller fxmodule_test.NewCatalog at mistakes_test.go:21: returns *fxmodule_test.Catalog, which is not a controllers.Controller: give it the methods Route() string and Load(ctx, *controllers.Request) (any, error)`,
			give: []fx.Option{controllerOfCatalog},
		},
		{
			name: "two mistakes", doc: "several",
			want: "service \"catalog\" (fxmodule_test.NewCatalogValue at mistakes_test.go:24): returns fxmodule_test.Catalog, a struct value: return *fxmodule_test.Catalog, a pointer, so that the service is not copied\nservice \"prices\" (fxmodule_test.NewPrices at mistakes_test.go:34): returns *fxmodule_test.Prices, which does not embed sprag.Service: embed sprag.Service in the struct and return a pointer to it",
			give: []fx.Option{
				fxmodule.Service("catalog", NewCatalogValue),
				fxmodule.Service("prices", NewPrices),
			},
		},
	}
}

// TestWiringErrors makes each wiring mistake and checks its message:
// App's Err (or Start), the one error logged through fxmodule.LogFxEvents,
// fx.New's own error, which holds it, and the page that shows it. With
// -update, it rewrites the page's messages instead.
func TestWiringErrors(t *testing.T) {
	t.Parallel()
	shown := make(map[string]string) // doc section → message
	for _, tt := range mistakes() {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := observed(t)
			app := fxmodule.App(append([]fx.Option{fx.Supply(logger)}, tt.give...)...)
			var err error
			if tt.start {
				require.NoError(t, app.Err())
				err = app.Start(context.Background())
			} else {
				err = app.Err()
				serr := app.Start(context.Background())
				require.Error(t, serr)
				assert.Equal(t, err.Error(), serr.Error(), "Start returns the build's error")
			}
			require.Error(t, err)
			if !tt.fromStart {
				var we *fxmodule.WiringError
				require.ErrorAs(t, err, &we)
			}
			if tt.doc != "" {
				shown[tt.doc] = err.Error()
			}
			if !*update {
				assert.Equal(t, tt.want, err.Error())
			}

			failures := logs.FilterLevelExact(zap.ErrorLevel).All()
			require.Len(t, failures, 1, "the mistake is logged once")
			assert.Equal(t, err.Error(), failures[0].ContextMap()["error"])

			if !tt.appOnly {
				plain := fx.New(append([]fx.Option{fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger}, tt.give...)...)
				perr := plain.Err()
				if tt.start {
					require.NoError(t, perr)
					perr = plain.Start(context.Background())
				}
				require.Error(t, perr)
				assert.Contains(t, perr.Error(), err.Error(), "fx.New's error holds the message")
			}

			if tt.fixed != nil {
				logger, _ := observed(t)
				fixed := fxmodule.App(append([]fx.Option{fx.Supply(logger)}, tt.fixed...)...)
				require.NoError(t, fixed.Start(context.Background()), "the fix")
				require.NoError(t, fixed.Stop(context.Background()))
			}
		})
	}
	if t.Failed() {
		return
	}
	if *update {
		require.NoError(t, rewriteMessages(wiringErrorsPage, shown))
		return
	}
	page, err := pageMessages(wiringErrorsPage)
	require.NoError(t, err)
	assert.Equal(t, shown, page, "docs/wiring-errors.md shows other messages: go test ./fxmodule -run TestWiringErrors -update")
}

// messageBlock finds the message blocks of the page: a marker comment,
// then a text block.
var messageBlock = regexp.MustCompile("(?s)<!-- message: ([a-z-]+) -->\n```text\n(.*?)\n```")

// pageMessages returns the messages the page shows, by section.
func pageMessages(path string) (map[string]string, error) {
	data, err := os.ReadFile(path) //nolint:gosec // a page of the repository
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for _, m := range messageBlock.FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = m[2]
	}
	return out, nil
}

// rewriteMessages puts messages in the page's message blocks; each
// section must have its block already.
func rewriteMessages(path string, messages map[string]string) error {
	data, err := os.ReadFile(path) //nolint:gosec // a page of the repository
	if err != nil {
		return err
	}
	seen := make(map[string]bool)
	out := messageBlock.ReplaceAllStringFunc(string(data), func(block string) string {
		doc := messageBlock.FindStringSubmatch(block)[1]
		msg, ok := messages[doc]
		if !ok {
			return block
		}
		seen[doc] = true
		return fmt.Sprintf("<!-- message: %s -->\n```text\n%s\n```", doc, msg)
	})
	for doc := range messages {
		if !seen[doc] {
			return fmt.Errorf("%s has no block <!-- message: %s --> for its message", path, doc)
		}
	}
	return os.WriteFile(path, []byte(out), 0o644) //nolint:gosec // a page of the repository, readable by all
}

// TestWiringErrorsInJSONLogs checks that a wiring error reaches a JSON log
// as one line with its message intact in the error field.
func TestWiringErrorsInJSONLogs(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	logger := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zap.DebugLevel))
	app := fxmodule.App(fx.Supply(logger), fxmodule.Service("catalog", NewCatalogValue), fxmodule.Service("prices", NewPrices))
	require.Error(t, app.Err())

	var errorLines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry), line)
		if entry["level"] == "error" {
			errorLines = append(errorLines, entry)
		}
	}
	require.Len(t, errorLines, 1)
	assert.Equal(t, app.Err().Error(), errorLines[0]["error"])
	assert.NotContains(t, errorLines[0], "errorVerbose")
	assert.NotContains(t, errorLines[0], "stacktrace")
	assert.NotContains(t, buf.String(), "makeFuncStub")
}

// TestFxErrorsNameTheConstructor checks what fx and dig report themselves,
// such as a dependency that nothing provides: the user's constructor, by
// name and location, never the function fxmodule builds with reflect.
func TestFxErrorsNameTheConstructor(t *testing.T) {
	t.Parallel()
	logger, logs := observed(t)
	app := fxmodule.App(fx.Supply(logger), fxmodule.Service("catalog", NewCatalogFrom))
	err := app.Err()
	require.Error(t, err)
	assert.Regexp(t, `missing dependencies for function "github.com/sprag-go/sprag/fxmodule_test".NewCatalogFrom \(\S*mistakes_test.go:\d+\): missing type: fxmodule_test.CatalogConfig$`, err.Error())
	assert.NotContains(t, err.Error(), "makeFuncStub")
	failures := logs.FilterLevelExact(zap.ErrorLevel).All()
	require.Len(t, failures, 1)
	assert.Equal(t, err.Error(), failures[0].ContextMap()["error"])
}
