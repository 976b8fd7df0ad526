// Package server is the keymeter serve process: one long-running process
// that owns the store, ingests continuously from its sources (S3 prefixes
// polled, Kinesis streams followed, local directories watched), serves
// the HTTP API and dashboard (package httpapi) with Prometheus metrics
// beside them, carries out the commands of keymeter processes run beside
// it (over a unix socket in the data directory), and drains on shutdown.
//
// It holds no rule: the ingest runs are the service's (FollowS3,
// FollowDirs, IngestStream), the store is shared through Shared, which
// serializes writers, and the commands run by the caller's function.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keymeter/keymeter/httpapi"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/service"
	"github.com/keymeter/keymeter/source/kinesis"
	"github.com/keymeter/keymeter/source/s3"
)

// Source is one source the server ingests from continuously.
type Source struct {
	// URL is s3://BUCKET/PREFIX, kinesis://STREAM, or a local directory
	// (or file, or glob pattern), which should be absolute: the server
	// changes its working directory for the commands it carries out.
	URL string
	// Config holds the runs' settings (format, key parameters, ...).
	Config ingest.Config
	// S3 and Kinesis say how to reach those sources.
	S3      s3.Config
	Kinesis kinesis.Config
	// Interval is the time between two listings of a directory or an S3
	// prefix, and between two reads of a stream once caught up.
	Interval time.Duration
}

// Kind returns the source's kind as SourceStatus says it: s3, kinesis or
// dir.
func (s Source) Kind() string {
	switch lower := strings.ToLower(s.URL); {
	case strings.HasPrefix(lower, "s3://"):
		return "s3"
	case strings.HasPrefix(lower, "kinesis://"):
		return "kinesis"
	}
	return "dir"
}

// Config is what the server runs.
type Config struct {
	// Listen is the HTTP address (host:port).
	Listen string
	// Service runs the operations; its Open must be Shared.Open.
	Service *service.Service
	Shared  *Shared
	// Sources are read from continuously.
	Sources []Source
	// Socket is the unix socket path the commands of other keymeter
	// processes come in on ("": none); Run is how they are carried out.
	Socket string
	Run    RunFunc
	// IdleCheckpoint is how long the store must go without a writer
	// before the server runs a CHECKPOINT (0: never), with Checkpoint.
	IdleCheckpoint time.Duration
	Checkpoint     func(ctx context.Context) error
	// StoreFiles are the database file and its WAL, for the size metrics.
	StoreFile, WALFile string
	// Billing is the billing config the API and the dashboard price
	// usage with; nil: none (their billing routes answer 404).
	Billing *service.Billing
	// OnCommit, when set, is called after each commit of ingested data
	// (alert evaluation hooks in here).
	OnCommit func()
	// Workers run beside ingestion until the server stops (the alert
	// outbox's deliverer, ...); one that returns an error other than
	// ctx's stops the server with it.
	Workers []func(ctx context.Context) error
	// Outbox, when set, reports the alert outbox (pending and dead
	// deliveries) for the metrics.
	Outbox func() (pending, dead int64)
	// Logger logs the server's events; nil: slog.Default().
	Logger *slog.Logger
	// Ready, when set, is called once the server listens (tests, the
	// command's log line) with the HTTP address.
	Ready func(addr net.Addr)
	// Drain bounds how long shutdown waits for HTTP requests and
	// commands in flight; 0: 10s.
	Drain time.Duration
}

// Server is a running keymeter serve.
type Server struct {
	cfg      Config
	log      *slog.Logger
	trackers []*tracker
	metrics  *metrics
	ready    chan struct{}
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil || cfg.Shared == nil {
		return nil, errors.New("server: no service or shared store")
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ready: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, src := range cfg.Sources {
		s.trackers = append(s.trackers, newTracker(src.URL, src.Kind(), time.Now))
	}
	s.metrics = newMetrics(s)
	prev := cfg.Shared.OnCommit
	cfg.Shared.OnCommit = func(d time.Duration) {
		s.metrics.commit.Observe(d.Seconds())
		if prev != nil {
			prev(d)
		}
		if cfg.OnCommit != nil {
			cfg.OnCommit()
		}
	}
	return s, nil
}

// Sources returns every source's status, in configuration order.
func (s *Server) Sources() []service.SourceStatus {
	out := make([]service.SourceStatus, len(s.trackers))
	for i, t := range s.trackers {
		out[i] = t.status()
	}
	return out
}

// readyErr says whether the server serves.
func (s *Server) readyErr() error {
	select {
	case <-s.ready:
		return nil
	default:
		return errors.New("starting")
	}
}

// Run serves until ctx is done, then drains: it stops taking HTTP
// requests and commands, lets those in flight finish (up to Drain),
// stops the sources, each committing what it read, and returns nil. An
// error is returned when the server cannot listen, or a worker fails.
func (s *Server) Run(ctx context.Context) error {
	api, err := httpapi.New(httpapi.Config{
		Service: s.cfg.Service,
		Billing: s.cfg.Billing,
		Sources: s.Sources,
		Ready:   s.readyErr,
		Observe: func(route string, status int, d time.Duration) {
			s.metrics.http.WithLabelValues(route, fmt.Sprint(status)).Observe(d.Seconds())
		},
		Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("http api: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.Handle("/", api)
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	var cmds *commandServer
	if s.cfg.Socket != "" {
		if cmds, err = listenCommands(s.cfg.Socket, s.cfg.Run, s.log); err != nil {
			ln.Close()
			return err
		}
		cmds.done = func(name string, code int) { s.metrics.commands.WithLabelValues(name, strconv.Itoa(code)).Inc() }
	}

	srcCtx, stopSources := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSources()
	workCtx, stopWork := context.WithCancelCause(ctx)
	defer stopWork(nil)
	var wg sync.WaitGroup
	for i, src := range s.cfg.Sources {
		wg.Go(func() { s.runSource(srcCtx, src, s.trackers[i]) })
	}
	var workerErr error
	var werrOnce sync.Once
	var workers sync.WaitGroup
	for _, w := range s.cfg.Workers {
		workers.Go(func() {
			if err := w(workCtx); err != nil && workCtx.Err() == nil {
				werrOnce.Do(func() { workerErr = err })
				stopWork(err)
			}
		})
	}
	if s.cfg.IdleCheckpoint > 0 && s.cfg.Checkpoint != nil {
		workers.Go(func() { s.idleCheckpoints(workCtx) })
	}
	httpErr := make(chan error, 1)
	go func() { httpErr <- hs.Serve(ln) }()
	if cmds != nil {
		go cmds.serve()
	}
	close(s.ready)
	s.log.Info("serving", "listen", ln.Addr().String(), "socket", s.cfg.Socket, "sources", len(s.cfg.Sources))
	if s.cfg.Ready != nil {
		s.cfg.Ready(ln.Addr())
	}

	var serveErr error
	select {
	case <-workCtx.Done():
	case serveErr = <-httpErr:
		serveErr = fmt.Errorf("http: %w", serveErr)
	}
	s.log.Info("draining")
	drainCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Drain)
	defer cancel()
	if err := hs.Shutdown(drainCtx); err != nil {
		hs.Close()
	}
	if cmds != nil {
		cmds.shutdown(drainCtx)
	}
	stopWork(context.Canceled)
	workers.Wait()
	stopSources()
	wg.Wait()
	s.log.Info("stopped")
	if workerErr != nil {
		return fmt.Errorf("worker: %w", workerErr)
	}
	return serveErr
}

// idleCheckpoints runs a CHECKPOINT once the store has gone without a
// writer for IdleCheckpoint, once per idle stretch, so that the WAL does
// not grow while transactions keep it from checkpointing on its own.
func (s *Server) idleCheckpoints(ctx context.Context) {
	var done time.Time // the idle stretch last checkpointed
	tick := time.NewTicker(max(s.cfg.IdleCheckpoint/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		since, idle := s.cfg.Shared.IdleSince()
		if !idle || since.Equal(done) || time.Since(since) < s.cfg.IdleCheckpoint {
			continue
		}
		start := time.Now()
		err := s.cfg.Shared.Lock(ctx, func() error { return s.cfg.Checkpoint(ctx) })
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("checkpoint", "err", err)
			}
			continue
		}
		done, _ = s.cfg.Shared.IdleSince()
		s.metrics.checkpoints.Inc()
		s.log.Debug("checkpoint", "duration", time.Since(start))
	}
}

// runSource reads src until ctx is done, starting again after an error
// with a backoff from 1s to a minute.
func (s *Server) runSource(ctx context.Context, src Source, t *tracker) {
	log := s.log.With("source", src.URL)
	backoff := time.Second
	for ctx.Err() == nil {
		err := s.readSource(ctx, src, t, log)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = time.Second
			continue
		}
		t.failed(err)
		log.Error("source failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// readSource runs src's follower until ctx is done or it fails; for a
// stream, one read until caught up, then waits Interval.
func (s *Server) readSource(ctx context.Context, src Source, t *tracker, log *slog.Logger) error {
	cfg := src.Config
	cfg.Progress = t.progress
	polled := func(sum *ingest.Summary) error {
		t.finished(sum, true)
		if len(sum.Failed) == 0 {
			t.failed(nil)
		}
		t.caughtUp()
		if sum.Lines > 0 || len(sum.Failed) > 0 {
			log.Info("ingested", "objects", sum.Read, "lines", sum.Lines, "events", sum.Events,
				"duplicates", sum.Duplicates, "rejected", sum.Rejected, "failed", len(sum.Failed))
		}
		for _, f := range sum.Failed {
			log.Warn("input failed", "uri", f.URI, "reason", f.Reason)
		}
		return nil
	}
	switch src.Kind() {
	case "s3":
		return s.cfg.Service.FollowS3(ctx, service.FollowRequest{Config: cfg, S3: []string{src.URL}, S3Config: src.S3,
			Interval: src.Interval, Listed: t.listed, Polled: polled})
	case "dir":
		return s.cfg.Service.FollowDirs(ctx, service.FollowDirRequest{Config: cfg, Dirs: []string{src.URL},
			Interval: src.Interval, Listed: t.listed, Polled: polled})
	}
	kc := src.Kinesis
	kc.Follow = false
	sum, err := s.cfg.Service.IngestStream(ctx, service.StreamRequest{Config: cfg, URL: src.URL, Kinesis: kc})
	stopped := err != nil && ctx.Err() != nil
	t.finished(sum, err == nil || stopped)
	if sum != nil && sum.Lines > 0 {
		log.Info("ingested", "records", sum.Lines, "events", sum.Events, "duplicates", sum.Duplicates,
			"rejected", sum.Rejected, "lag", sum.Lag)
	}
	if stopped {
		return nil
	}
	if err != nil {
		return err
	}
	t.failed(nil)
	s.streamPosition(ctx, src, t)
	select {
	case <-ctx.Done():
	case <-time.After(src.Interval):
	}
	return nil
}

// streamPosition sets a stream's position from its committed checkpoints.
func (s *Server) streamPosition(ctx context.Context, src Source, t *tracker) {
	name, err := kinesis.ParseURL(src.URL)
	if err != nil {
		return
	}
	st, err := s.cfg.Shared.Open(ctx, service.Read)
	if err != nil {
		return
	}
	cr, ok := st.Ingest.(interface {
		Checkpoints(context.Context, string) (map[string]string, error)
	})
	if !ok {
		return
	}
	cps, err := cr.Checkpoints(ctx, name)
	if err != nil {
		return
	}
	shards := make([]string, 0, len(cps))
	for shard, seq := range cps {
		shards = append(shards, shard+"="+seq)
	}
	slices.Sort(shards)
	t.position(strings.Join(shards, " "))
}
