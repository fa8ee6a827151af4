package cron_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
	"github.com/sprag-go/sprag/spragtest"
)

// The examples of this file are the code of docs/primitives.md.

// Reports builds a report every five minutes, on the minute.
type Reports struct {
	sprag.Service
	built atomic.Int32
}

func (r *Reports) OnStart(ctx context.Context) error {
	_, err := cron.Add(r, "CRON_TZ=Europe/Paris 0 */5 * * * *", r.build, cron.Label("report"))
	return err
}

func (r *Reports) build(ctx context.Context) error {
	r.built.Add(1)
	return nil
}

func ExampleAdd() {
	r := &Reports{}
	_ = sprag.Bind(r, "reports", sprag.NewRuntime(nil))
	fmt.Println(r.Start(context.Background()))
	defer func() { _ = r.Stop(context.Background()) }()

	_, err := cron.Add(r, "every five minutes", r.build, cron.Label("typo"))
	fmt.Println(err)
	// Output:
	// <nil>
	// service "reports": cron job typo: sprag: invalid argument: cron spec "every five minutes": expected 5 to 6 fields, found 3: [every five minutes]
}

// TestReportsRunEveryFiveMinutes is the way to test a cron job: in a
// synctest bubble an hour passes at once.
func TestReportsRunEveryFiveMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &Reports{}
		spragtest.Start(t, "reports", r)

		time.Sleep(time.Hour) // virtual: returns at once
		synctest.Wait()

		assert.Equal(t, int32(12), r.built.Load())
	})
}

func ExampleParse() {
	weekdays, err := cron.Parse("CRON_TZ=Europe/Paris 0 9 * * MON-FRI")
	if err != nil {
		fmt.Println(err)
		return
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		fmt.Println(err) // no zoneinfo: import _ "time/tzdata"
		return
	}
	at := time.Date(2026, 1, 9, 12, 0, 0, 0, paris) // a Friday, at noon
	for range 3 {
		at = weekdays.Next(at, sprag.Run{})
		fmt.Println(at.Format("Mon 2 Jan 15:04 MST"))
	}

	var sc sprag.Scope
	defer func() { _ = sc.Close(context.Background()) }()
	timer, err := sc.Schedule(weekdays, func(context.Context) error { return nil }, sprag.Label("standup"))
	fmt.Println(timer.Label(), timer.Active(), err) // an ordinary timer of the scope

	_, err = cron.Parse("0 0 30 2 *")
	fmt.Println(err)
	// Output:
	// Mon 12 Jan 09:00 CET
	// Tue 13 Jan 09:00 CET
	// Wed 14 Jan 09:00 CET
	// standup true <nil>
	// cron spec "0 0 30 2 *": sprag: invalid argument: it names no time in the next five years
}
