// Package fxmoduletest builds fx apps of sprag services for tests, as fxtest
// does for plain fx apps.
//
// [New] returns an *fxtest.App with fxmodule.Module, a zaptest logger for
// both the services and fx's events, and the given options. It works inside
// a testing/synctest bubble: build and start the app within the function
// given to synctest.Test, and the app's timers, its services' intervals and
// its start and stop timeouts all run on the bubble's virtual clock.
//
//	func TestApp(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			var metrics *MetricsService
//			app := fxmoduletest.New(t,
//				fxmodule.Service("metrics", NewMetricsService),
//				fx.Populate(fx.Annotate(&metrics, fx.ParamTags(`name:"metrics"`))),
//			)
//			app.RequireStart()
//			time.Sleep(time.Hour)
//			synctest.Wait()
//			app.RequireStop()
//		})
//	}
package fxmoduletest

import (
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sprag-go/sprag/fxmodule"
)

// TB is what New needs of a test: *testing.T, *testing.B and the
// *testing.T of a synctest bubble have it.
type TB interface {
	fxtest.TB
	zaptest.TestingT
}

// New returns a test app of fxmodule.Module and opts, logging services and
// fx events to t at debug level. A wiring error fails the test at once, as
// with fxtest.New. The caller starts and stops the app (RequireStart,
// RequireStop).
func New(t TB, opts ...fx.Option) *fxtest.App {
	logger := zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))
	all := append([]fx.Option{fxmodule.Module, fx.Supply(logger), fxmodule.LogFxEvents}, opts...)
	return fxtest.New(t, all...)
}
