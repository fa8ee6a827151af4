// Package cron schedules work at the times a cron spec names, on
// sprag's timers: a [Schedule] is a sprag.Schedule, so a cron job is an
// ordinary timer of its owner's scope, costs no goroutine while it waits,
// never overlaps itself, and runs on virtual time in a testing/synctest
// bubble.
//
//	report := cron.MustParse("CRON_TZ=Europe/Paris 0 9 * * MON-FRI")
//	timer, err := svc.Schedule(report, svc.sendReport)
//
//	timer, err = cron.Add(svc, "*/15 * * * *", svc.sweep, cron.Label("sweep"))
//
// Specs are parsed by github.com/robfig/cron/v3: five fields, six with
// seconds, descriptors, and CRON_TZ= or TZ= prefixes.
package cron
