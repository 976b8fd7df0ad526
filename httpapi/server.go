// Package httpapi is keymeter's HTTP server: the JSON API under /api/v1,
// the health checks, and the dashboard and customer portal at /. It
// decodes requests, checks tokens, calls the same service operations as
// the command line and encodes their results with the same report
// layouts. It holds no rule of its own.
package httpapi

import (
	"log/slog"
	"net/http"
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
}

// New returns the server's handler.
func New(cfg Config) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	return mux, nil
}
