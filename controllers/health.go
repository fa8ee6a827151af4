package controllers

import (
	"context"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// The built-in routes of every [Server]. Mounting a controller on them
// fails with [ErrRouteConflict].
const (
	HealthzRoute = "GET /healthz"
	ReadyzRoute  = "GET /readyz"
)

// Liveness is the body of /healthz: the process is up and serving.
type Liveness struct {
	Status string `json:"status"` // always "ok"
}

// Readiness is the body of /readyz, with status 200 when Ready and 503
// otherwise. It is the same document in both cases, not the error
// envelope: probes read the status, people read the list.
type Readiness struct {
	Ready    bool               `json:"ready"`               // every registered service runs and is healthy, and the server is not draining
	Draining bool               `json:"draining,omitempty"`  // the server's stop has begun ([WithDrainDelay])
	Services []ServiceReadiness `json:"services"`            // every service, in registration order, children after parents
	NotReady []string           `json:"not_ready,omitempty"` // the names of the services that are not ready
	Streams  []StreamStats      `json:"streams,omitempty"`   // the figures of the server's streams ([Server.Stream])
}

// ServiceReadiness is one service in [Readiness]: its name, its state and
// whether it is healthy, nothing more. Why a service is unhealthy is
// logged, never sent, since an error's text can hold internal detail such
// as addresses or credentials in a connection string.
type ServiceReadiness struct {
	Name    string `json:"name"`    // the service's full name: "email", or "email/outbox" for a child it adopted
	State   string `json:"state"`   // created, starting, running, stopping, stopped or failed
	Healthy bool   `json:"healthy"` // running, with no problem from its Health method, a task that gave up or a primitive
}

// builtinRoutes returns /healthz and /readyz.
func (s *Server) builtinRoutes() []*route {
	healthz := &route{pattern: HealthzRoute, httpRoute: routePath(HealthzRoute), kind: kindBuiltin, owner: "server", quiet: true}
	healthz.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := s.enter(w, r, healthz)
		s.writeJSON(rw, http.StatusOK, Liveness{Status: "ok"})
	})
	readyz := &route{pattern: ReadyzRoute, httpRoute: routePath(ReadyzRoute), kind: kindBuiltin, owner: "server", quiet: true}
	readyz.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveReadyz(r.Context(), s.enter(w, r, readyz))
	})
	return []*route{healthz, readyz}
}

// serveReadyz answers from the registry's health report, and 503 while
// the server drains. It calls the Health method of every service that has
// one, with the request's context.
func (s *Server) serveReadyz(ctx context.Context, rw *responseWriter) {
	report := s.registry.Health(ctx)
	draining := s.draining.Load()
	body := Readiness{
		Ready:    report.Healthy && !draining,
		Draining: draining,
		Services: make([]ServiceReadiness, len(report.Services)),
		Streams:  s.StreamStats(),
	}
	var self string // while draining, the server itself stops: no problem to warn of
	if draining {
		self = s.Name()
	}
	var problems []string
	for i, st := range report.Services {
		body.Services[i] = ServiceReadiness{Name: st.Name, State: st.State.String(), Healthy: st.Healthy}
		if !st.Healthy {
			body.NotReady = append(body.NotReady, st.Name)
			if st.Name != self {
				problems = append(problems, st.Name)
			}
		}
	}
	status := http.StatusOK
	if !body.Ready {
		status = http.StatusServiceUnavailable
	}
	if len(problems) > 0 {
		if ce := s.log().Check(zap.WarnLevel, "not ready"); ce != nil {
			ce.Write(zap.String("request_id", rw.id), zap.String("services", strings.Join(problems, ", ")),
				zap.Error(report.Err()))
		}
	}
	s.writeJSON(rw, status, body)
}
