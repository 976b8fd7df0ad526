// Package httpapi is keymeter's HTTP server: the JSON API under /api/v1,
// the health checks, and the dashboard and customer portal at /. It
// decodes requests, checks tokens, calls the same service operations as
// the command line and encodes their results with the same report
// layouts. It holds no rule of its own.
package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/keymeter/keymeter/service"
)

// Config is what the server needs from the process that runs it
// (keymeter serve).
type Config struct {
	// Service runs the operations, over the store the process owns.
	Service *service.Service
	// Sources reports the running sources' status; nil: none.
	Sources func() []service.SourceStatus
	// Ready returns nil once the process serves (the store is open and
	// ingestion started); nil: always ready.
	Ready func() error
	// Observe, when set, is called after each request with the route's
	// pattern (as registered, e.g. "GET /api/v1/usage"), the status and
	// the duration: the process records it as a metric.
	Observe func(route string, status int, d time.Duration)
	// Logger logs requests and errors; nil: slog.Default().
	Logger *slog.Logger

	// Billing is the billing configuration of the routes that rate usage
	// (customers, invoices, costs) and of the dashboard's invoices; nil:
	// those routes answer 404 (no billing config).
	Billing *service.Billing
	// CoverageThreshold is the coverage threshold of usage and invoices,
	// in basis points (keymeter's coverage_threshold); 0: 99%.
	CoverageThreshold int64
	// SecureCookies marks the dashboard's cookies Secure even on plain
	// HTTP requests: set it behind a proxy that terminates TLS. Requests
	// that arrive over TLS get Secure cookies anyway.
	SecureCookies bool
}

// server is the handler New returns.
type server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	// routes are the patterns registered, in order, for the OpenAPI
	// document's test.
	routes []route
}

// route is one registered pattern and who may call it.
type route struct {
	pattern string
	access  access
}

// access says who may call a route.
type access int

const (
	public   access = iota // no token
	anyToken               // an admin's or a customer's token; the handler scopes
	admin                  // an admin's token only
)

// New returns the server's handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("httpapi: no service")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CoverageThreshold == 0 {
		cfg.CoverageThreshold = 9900
	}
	s := &server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.routesHealth()
	s.routesAPI()
	if err := s.routesDashboard(); err != nil {
		return nil, err
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func (s *server) routesHealth() {
	s.handleRaw("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	s.handleRaw("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if s.cfg.Ready != nil {
			if err := s.cfg.Ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "not ready: %v\n", err)
				return
			}
		}
		w.Write([]byte("ready\n"))
	})
}

// handleRaw registers a public handler with the server's middleware:
// recovery, logging and Observe.
func (s *server) handleRaw(pattern string, h http.HandlerFunc) {
	s.routes = append(s.routes, route{pattern: pattern, access: public})
	s.mux.Handle(pattern, s.observe(h))
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe wraps h: it recovers from a panic (500), logs the request
// (method, route, status, duration; never a header, so never a token)
// and calls Observe with the route's pattern.
func (s *server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("http handler panic", "route", r.Pattern, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, r, http.StatusInternalServerError, "internal", "internal error")
				}
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			d := time.Since(start)
			s.log.Debug("http request", "method", r.Method, "route", r.Pattern, "status", sw.status, "duration", d)
			if s.cfg.Observe != nil {
				s.cfg.Observe(r.Pattern, sw.status, d)
			}
		}()
		h.ServeHTTP(sw, r)
	})
}

// Routes returns the patterns h (a handler New returned) registered, in
// order ("GET /api/v1/usage"): for tests that check them against the
// OpenAPI document. It returns nil for any other handler.
func Routes(h http.Handler) []string {
	s, ok := h.(*server)
	if !ok {
		return nil
	}
	out := make([]string, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.pattern
	}
	return out
}
