package fxmodule_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// The tests of this file set environment variables: none is parallel.

func TestAppReadsSPRAGAddr(t *testing.T) {
	tests := []struct {
		name, env, option, want string
	}{
		{name: "unset: this machine only", want: fxmodule.DefaultAddr},
		{name: "set", env: "127.0.0.1:9999", want: "127.0.0.1:9999"},
		{name: "every interface, chosen", env: ":8080", want: ":8080"},
		{name: "an option of the app wins", env: "127.0.0.1:9999", option: "127.0.0.1:7777", want: "127.0.0.1:7777"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(fxmodule.EnvAddr, tt.env)
			logger, _ := observed(t)
			var server *controllers.Server
			opts := []fx.Option{fx.Supply(logger), fxmodule.Controllers(), fx.Populate(fx.Annotate(&server, fx.ParamTags(`name:"http"`)))}
			if tt.option != "" {
				opts = append(opts, fxmodule.ServerOptions(controllers.WithAddr(tt.option)))
			}
			app := fxmodule.App(opts...)
			require.NoError(t, app.Err())
			assert.Equal(t, tt.want, server.Addr(), "the address the server will listen on")
		})
	}
	assert.Equal(t, "localhost:8080", fxmodule.DefaultAddr)
}

func TestDevLoggerOption(t *testing.T) {
	t.Setenv(fxmodule.EnvLog, "")
	var rt sprag.Runtime
	app := fx.New(fxmodule.Module, fx.NopLogger, fxmodule.DevLogger(), fxmodule.DevLogger(), fx.Populate(&rt))
	require.NoError(t, app.Err(), "DevLogger may be given twice")
	assert.Equal(t, "*zapcore.ioCore", fmt.Sprintf("%T", rt.Logger.Core()), "the console logger, not production's sampler")
}
