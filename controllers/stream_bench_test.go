package controllers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// fanoutClients is the number of stream clients of the fan-out benchmarks.
const fanoutClients = 1000

// tick is the payload of the fan-out benchmarks.
type tick struct {
	Orders  int     `json:"orders"`
	Revenue float64 `json:"revenue"`
	At      string  `json:"at"`
}

var theTick = tick{Orders: 42, Revenue: 1234.5, At: "2026-01-02T03:04:05Z"}

// fleet is a set of stream clients over loopback. Each reads its stream
// on a goroutine of its own and counts down delivered when an event
// arrives; the last one of a round signals done.
type fleet struct {
	remaining atomic.Int64
	done      chan struct{}
	wg        sync.WaitGroup
	tr        *http.Transport
}

func newFleet() *fleet {
	return &fleet{
		done: make(chan struct{}, 1),
		tr:   &http.Transport{MaxIdleConnsPerHost: fanoutClients, DialContext: (&net.Dialer{}).DialContext},
	}
}

// connect opens n streams on url and waits for their response headers.
func (f *fleet) connect(b *testing.B, url string, n int) {
	b.Helper()
	client := &http.Client{Transport: f.tr}
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		f.wg.Go(func() {
			defer func() { _ = resp.Body.Close() }()
			br := bufio.NewReaderSize(resp.Body, 4096)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if bytes.HasPrefix(line, []byte("data: ")) && f.remaining.Add(-1) == 0 {
					f.done <- struct{}{}
				}
			}
		})
	}
}

// round runs send and waits until every client has the event; it returns
// the time that took.
func (f *fleet) round(n int, send func()) time.Duration {
	f.remaining.Store(int64(n))
	began := time.Now()
	send()
	<-f.done
	return time.Since(began)
}

// close waits for the readers, whose streams the server ended.
func (f *fleet) close() {
	f.wg.Wait()
	f.tr.CloseIdleConnections()
}

// reportPercentiles reports the p50 and p99 of ds, in ns per event.
func reportPercentiles(b *testing.B, ds []time.Duration, unit string) {
	b.Helper()
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), "p50-"+unit)
	b.ReportMetric(float64(ds[(len(ds)*99)/100].Nanoseconds()), "p99-"+unit)
}

// streamServer starts a server on loopback with the stream "GET /events"
// forwarding "tick", and returns its bus and a stop function.
func streamServer(b *testing.B) (*controllers.Server, sprag.Runtime, func()) {
	b.Helper()
	srv, err := controllers.NewServer(nil, controllers.WithAddr("127.0.0.1:0"), controllers.WithLogger(zap.NewNop()),
		controllers.WithMaxStreams(2*fanoutClients),
		controllers.WithStream("/events", controllers.Forward("tick"), controllers.StreamHeartbeat(0)))
	if err != nil {
		b.Fatal(err)
	}
	rt := sprag.NewRuntime(nil)
	if err := sprag.Bind(srv, "http", rt); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return srv, rt, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			b.Error(err)
		}
	}
}

// rawFanout is the baseline of BenchmarkStreamFanout: 1,000 plain net/http
// handlers over loopback that hand their http.ResponseWriter to the
// benchmark and wait; an event is its bytes written and flushed to each
// writer, one after the other.
type rawFanout struct {
	mu       sync.Mutex
	writers  []rawWriter
	released chan struct{}
	hs       *http.Server
	served   chan struct{}
	fleet    *fleet
}

type rawWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func startRawFanout(b *testing.B, n int) *rawFanout {
	b.Helper()
	r := &rawFanout{released: make(chan struct{}), served: make(chan struct{}), fleet: newFleet()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	r.hs = &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		f := w.(http.Flusher)
		f.Flush()
		r.mu.Lock()
		r.writers = append(r.writers, rawWriter{w, f})
		r.mu.Unlock()
		<-r.released
	})}
	go func() {
		defer close(r.served)
		_ = r.hs.Serve(ln)
	}()
	r.fleet.connect(b, "http://"+ln.Addr().String()+"/events", n)
	for {
		r.mu.Lock()
		connected := len(r.writers)
		r.mu.Unlock()
		if connected == n {
			return r
		}
		time.Sleep(time.Millisecond)
	}
}

// send writes frame to every writer and waits until every client has it.
func (r *rawFanout) send(b *testing.B, frame []byte) time.Duration {
	return r.fleet.round(len(r.writers), func() {
		for _, w := range r.writers {
			if _, err := w.w.Write(frame); err != nil {
				b.Fatal(err)
			}
			w.f.Flush()
		}
	})
}

func (r *rawFanout) stop(b *testing.B) {
	close(r.released)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.hs.Shutdown(ctx); err != nil {
		b.Error(err)
	}
	<-r.served
	r.fleet.close()
}

// BenchmarkStreamFanout measures one Emit to a topic that a stream
// forwards to 1,000 clients over loopback, until every client has read
// the event: ns/op, and p50 and p99 per event. Its baseline runs in the
// same loop, outside the timer, interleaved so that both see the same
// machine: the same event's bytes written and flushed to 1,000 plain
// http.ResponseWriters one after the other (raw-p50, raw-p99); ratio-p50
// is p50 / raw-p50.
func BenchmarkStreamFanout(b *testing.B) {
	b.Run(fmt.Sprintf("clients=%d", fanoutClients), func(b *testing.B) {
		srv, rt, stop := streamServer(b)
		f := newFleet()
		f.connect(b, "http://"+srv.Addr()+"/events", fanoutClients)
		raw := startRawFanout(b, fanoutClients)
		data, err := json.Marshal(theTick)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		var rounds, rawRounds []time.Duration
		seq := 0
		b.ReportAllocs()
		for b.Loop() {
			rounds = append(rounds, f.round(fanoutClients, func() {
				if err := rt.Bus.Emit(ctx, "tick", theTick); err != nil {
					b.Fatal(err)
				}
			}))
			b.StopTimer()
			seq++
			rawRounds = append(rawRounds, raw.send(b, fmt.Appendf(nil, "id: ABCDEFGH-%d\nevent: tick\ndata: %s\n\n", seq, data)))
			b.StartTimer()
		}
		b.StopTimer()
		p50, raw50 := median(rounds), median(rawRounds)
		reportPercentiles(b, rounds, "ns/event")
		slices.Sort(rawRounds)
		b.ReportMetric(float64(raw50.Nanoseconds()), "raw-p50-ns/event")
		b.ReportMetric(float64(rawRounds[(len(rawRounds)*99)/100].Nanoseconds()), "raw-p99-ns/event")
		b.ReportMetric(float64(p50)/float64(raw50), "ratio-p50")
		stop()
		f.close()
		raw.stop(b)
	})
}

// median returns the median of ds, which it sorts.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// BenchmarkStreamEmit measures Emit alone on a topic that a stream
// forwards: it encodes the payload once and hands it to the stream,
// whatever the number of clients, so clients=1000 (connected over loopback
// and reading) costs what clients=0 does, but for the CPU the clients'
// goroutines take from the emitter. Emits follow each other without
// waiting for the clients, which take what they can and get gap markers
// for the rest. p50 and p99 are those of each Emit call, timed alone.
func BenchmarkStreamEmit(b *testing.B) {
	for _, n := range []int{0, fanoutClients} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			srv, rt, stop := streamServer(b)
			f := newFleet()
			f.remaining.Store(math.MaxInt64) // the readers never signal
			f.connect(b, "http://"+srv.Addr()+"/events", n)
			if got := srv.StreamStats()[0].Clients; got != int64(n) {
				b.Fatalf("%d clients, want %d", got, n)
			}
			ctx := context.Background()
			emits := make([]time.Duration, 0, 1<<20)
			b.ReportAllocs()
			for b.Loop() {
				began := time.Now()
				if err := rt.Bus.Emit(ctx, "tick", theTick); err != nil {
					b.Fatal(err)
				}
				emits = append(emits, time.Since(began))
			}
			b.StopTimer()
			reportPercentiles(b, emits, "ns/emit")
			stop()
			f.close()
		})
	}
}
