// Command cluster is an app meant to run as several replicas sharing one
// NATS cluster: its events reach every replica, its report runs on one
// replica at a time, and its mail queue is shared.
//
//	go run ./examples/cluster                   # one replica, embedded NATS in ./cluster-data
//	SPRAG_NATS_URL=nats://a:4222,nats://b:4222 SPRAG_REPLICA=web-1 go run ./examples/cluster
//
// Each replica serves, on SPRAG_ADDR (default :8080):
//
//	POST /greetings/send  {"first":1,"count":10}   emits greetings 1..10 to every replica
//	POST /emails/push     {"first":1,"count":100}  queues emails 1..100 for any replica
//
// and prints one line on its standard output for each greeting it gets,
// each report it runs and each email it sends. The settings, all
// optional, are environment variables: SPRAG_NATS_URL, SPRAG_DATA_DIR,
// SPRAG_REPLICA, SPRAG_STREAM_REPLICAS, SPRAG_TICK, SPRAG_LEASE_TTL,
// SPRAG_ACK_WAIT and SPRAG_WORK_TIME.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/fxmodule/fxcluster"
)

func main() {
	logger, err := zap.NewDevelopment(zap.IncreaseLevel(zap.InfoLevel), zap.AddStacktrace(zap.ErrorLevel))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer func() { _ = logger.Sync() }()
	s, err := loadSettings(os.Getenv)
	if err != nil {
		logger.Fatal("settings", zap.Error(err))
	}

	fxmodule.App(
		fx.Supply(logger, s),
		fxcluster.Module(s.clusterOptions()...),
		fxmodule.Providers(map[string]any{
			"greetings": NewGreetings,
			"reports":   NewReports,
			"mailer":    NewMailer,
		}),
		fxmodule.Controllers(NewGreetingsController, NewEmailsController),
		fx.StopTimeout(15*time.Second),
		fx.Invoke(announce),
	).Run()
}

// settings are the replica's configuration.
type settings struct {
	natsURL        string
	dataDir        string
	replica        string
	streamReplicas int
	tick           time.Duration
	leaseTTL       time.Duration
	ackWait        time.Duration
	workTime       time.Duration
}

// loadSettings reads the settings from getenv, with defaults for one
// replica on a laptop.
func loadSettings(getenv func(string) string) (settings, error) {
	s := settings{
		natsURL:        getenv("SPRAG_NATS_URL"),
		dataDir:        or(getenv("SPRAG_DATA_DIR"), "cluster-data"),
		replica:        getenv("SPRAG_REPLICA"),
		streamReplicas: 1,
		tick:           10 * time.Second,
		leaseTTL:       cluster.DefaultLeaseTTL,
		ackWait:        cluster.DefaultAckWait,
		workTime:       50 * time.Millisecond,
	}
	if v := getenv("SPRAG_STREAM_REPLICAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return s, fmt.Errorf("SPRAG_STREAM_REPLICAS: %w", err)
		}
		s.streamReplicas = n
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"SPRAG_TICK", &s.tick}, {"SPRAG_LEASE_TTL", &s.leaseTTL}, {"SPRAG_ACK_WAIT", &s.ackWait}, {"SPRAG_WORK_TIME", &s.workTime}} {
		if v := getenv(d.name); v != "" {
			dur, err := time.ParseDuration(v)
			if err != nil {
				return s, fmt.Errorf("%s: %w", d.name, err)
			}
			*d.dst = dur
		}
	}
	return s, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// clusterOptions configures the node: an external cluster when a URL is
// given, else an embedded server.
func (s settings) clusterOptions() []cluster.Option {
	opts := []cluster.Option{
		cluster.DistributeTopic(GreetingSent, cluster.AtLeastOnce(cluster.AckWait(s.ackWait))),
		cluster.StreamReplicas(s.streamReplicas),
	}
	if s.natsURL != "" {
		opts = append(opts, cluster.URL(s.natsURL))
	} else {
		opts = append(opts, cluster.DataDir(s.dataDir))
	}
	if s.replica != "" {
		opts = append(opts, cluster.Replica(s.replica))
	}
	return opts
}

// say writes one of the replica's report lines on standard output, in one
// write, so that lines written at once by several goroutines do not mix.
func say(format string, args ...any) {
	_, _ = fmt.Fprintf(os.Stdout, format+"\n", args...)
}

type announceParams struct {
	fx.In
	Bus    *eventbus.Bus
	Server *controllers.Server `name:"http"`
	Node   *cluster.Node       `name:"cluster"`
}

// announce prints the replica's address once every service has started.
func announce(p announceParams) error {
	_, err := fxmodule.AppStarted.Listen(p.Bus, func(context.Context, fxmodule.AppEvent) error {
		say("ready replica=%s addr=%s", p.Node.ReplicaName(), p.Server.Addr())
		return nil
	})
	return err
}
