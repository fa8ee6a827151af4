package fxmoduletest_test

import (
	"context"
	"fmt"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/fxmodule/fxmoduletest"
	"github.com/sprag-go/sprag/sprag"
)

// Greeter is the service under test.
type Greeter struct{ sprag.Service }

func (g *Greeter) OnStart(context.Context) error {
	fmt.Println("hello from", g.Name())
	return nil
}

func (g *Greeter) OnStop(context.Context) error {
	fmt.Println("goodbye from", g.Name())
	return nil
}

// exampleT stands in for the *testing.T a real test passes: Example
// functions get none. It drops the logs and prints failures.
type exampleT struct{ failed bool }

func (*exampleT) Logf(string, ...any) {}
func (t *exampleT) Errorf(format string, args ...any) {
	t.failed = true
	fmt.Printf(format+"\n", args...)
}
func (t *exampleT) Fail()        { t.failed = true }
func (t *exampleT) FailNow()     { t.failed = true }
func (t *exampleT) Failed() bool { return t.failed }
func (*exampleT) Name() string   { return "Example" }

// In a test, pass the test's t, also the t of a synctest bubble:
// fxmoduletest.New(t, ...) inside synctest.Test(t, func(t *testing.T) {...}).
func ExampleNew() {
	t := &exampleT{}
	app := fxmoduletest.New(t, fxmodule.Service("greeter", func() *Greeter { return &Greeter{} }))
	app.RequireStart()
	app.RequireStop()
	fmt.Println("failed:", t.Failed())
	// Output:
	// hello from greeter
	// goodbye from greeter
	// failed: false
}
