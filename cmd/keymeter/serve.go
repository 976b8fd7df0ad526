package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/server"
	"github.com/keymeter/keymeter/service"
	"github.com/keymeter/keymeter/source/kinesis"
	"github.com/keymeter/keymeter/store/duckdb"
)

// alertDeliveryInterval is how often serve sends the alert webhooks that
// are due.
const alertDeliveryInterval = 5 * time.Second

// serveConfig is the serve: section of the config file.
type serveConfig struct {
	// Listen is the HTTP address; default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// QueryTimeout bounds each ad-hoc SQL query (keymeter sql, and the
	// API's); default 30s, "0s": none.
	QueryTimeout string `yaml:"query_timeout"`
	// IdleCheckpoint is how long the store goes without a writer before
	// a CHECKPOINT; default 30s, "0s": never.
	IdleCheckpoint string `yaml:"idle_checkpoint"`
	// Sources are read from continuously.
	Sources []serveSource `yaml:"sources"`
}

// serveSource is one source of serve: in the config file.
type serveSource struct {
	// Source is s3://BUCKET/PREFIX, kinesis://STREAM or a local directory
	// (relative to the config file's directory).
	Source string `yaml:"source"`
	// Format is as ingest's --format; default: detected (for kinesis://,
	// cloudfront-realtime).
	Format string `yaml:"format"`
	// Interval is the time between two listings of a directory (default
	// 2s) or an S3 prefix (default 1m), and between two reads of a
	// stream that caught up (default 1s).
	Interval string `yaml:"interval"`
	// Endpoint and Region are as ingest's --endpoint and --region.
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
}

const defaultListen = "127.0.0.1:8080"

// serveMemoryLimit caps the embedded database's memory in serve, unless
// the configuration says otherwise: ingestion streams, and queries
// spill beyond it, so that the server's memory stays flat.
const serveMemoryLimit = "256MB"

// durationOr parses a validated duration setting, def when empty.
func durationOr(v string, def time.Duration) time.Duration {
	if v == "" {
		return def
	}
	d, _ := time.ParseDuration(v)
	return d
}

func (sc *serveConfig) problems() []string {
	var out []string
	for _, f := range []struct{ name, v string }{{"query_timeout", sc.QueryTimeout}, {"idle_checkpoint", sc.IdleCheckpoint}} {
		if f.v == "" {
			continue
		}
		if d, err := time.ParseDuration(f.v); err != nil || d < 0 {
			out = append(out, fmt.Sprintf("serve.%s: %q is not a duration such as 30s or 2m", f.name, f.v))
		}
	}
	for i, src := range sc.Sources {
		if strings.TrimSpace(src.Source) == "" {
			out = append(out, fmt.Sprintf("serve.sources[%d].source: empty (want s3://BUCKET/PREFIX, kinesis://STREAM or a directory)", i))
		} else if _, err := classifySources([]string{src.Source}); err != nil {
			out = append(out, fmt.Sprintf("serve.sources[%d].source: %q: want s3://BUCKET/PREFIX, kinesis://STREAM or a directory", i, src.Source))
		}
		if src.Format != "" && !slices.Contains(ingest.FormatNames(), src.Format) {
			out = append(out, fmt.Sprintf("serve.sources[%d].format: unknown format %q (want %s)", i, src.Format, strings.Join(ingest.FormatNames(), ", ")))
		}
		if src.Interval != "" {
			if d, err := time.ParseDuration(src.Interval); err != nil || d <= 0 {
				out = append(out, fmt.Sprintf("serve.sources[%d].interval: %q is not a positive duration such as 5s or 1m", i, src.Interval))
			}
		}
	}
	return out
}

func (m *Main) runServe(ctx context.Context, args []string) error {
	if m.shared != nil {
		return keymeter.Errorf(keymeter.ECONFLICT, "keymeter serve is already running for this data directory")
	}
	fs := m.newFlagSet("serve", "[flags] [SOURCE...]",
		"Runs the metering service until interrupted (SIGINT, SIGTERM: it then stops\n"+
			"taking requests, lets those in flight finish, commits what it read and exits\n"+
			"with status 0). It owns the store and ingests continuously, exactly once, from\n"+
			"the sources of the config file's serve.sources and the SOURCE arguments: a\n"+
			"directory (new and grown files are read every --interval), s3://BUCKET/PREFIX\n"+
			"(listed every --interval) and kinesis://STREAM (followed). It serves the HTTP\n"+
			"API and the dashboard on --listen, Prometheus metrics at /metrics, and carries\n"+
			"out the commands of other keymeter processes on the same data directory, which\n"+
			"find it on the unix socket DATA/keymeter.sock.\n\n"+
			"Exit status 4 when another keymeter serve, or another process, holds the store.")
	var common commonFlags
	common.register(fs, true)
	listen := fs.String("listen", "", "HTTP `address` (default serve.listen, else "+defaultListen+")")
	format := fs.String("format", "", "log `format` of the SOURCE arguments (default: detected; cloudfront-realtime for kinesis://)")
	interval := fs.Duration("interval", 0, "`time` between two listings of the SOURCE arguments (default 2s for directories, 1m for s3://, 1s between reads of a caught-up stream)")
	endpoint := fs.String("endpoint", "", "`URL` of an S3- or Kinesis-compatible server for the SOURCE arguments")
	region := fs.String("region", "", "AWS `region` of the SOURCE arguments")
	logFormat := fs.String("log-format", "text", "log `format` on stderr: text or json")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *format != "" && !slices.Contains(ingest.FormatNames(), *format) {
		return &usageError{msg: fmt.Sprintf("serve: unknown --format %q (want %s)", *format, strings.Join(ingest.FormatNames(), ", "))}
	}
	if *interval < 0 {
		return &usageError{msg: "serve: --interval must be positive"}
	}
	var logger *slog.Logger
	switch *logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(m.Stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(m.Stderr, nil))
	default:
		return &usageError{msg: fmt.Sprintf("serve: unknown --log-format %q (want text or json)", *logFormat)}
	}
	for _, p := range pos {
		if _, err := classifySources([]string{p}); err != nil {
			return err
		}
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	// The server changes its working directory for the commands it
	// carries out: its own paths are made absolute first.
	if cfg.Data, err = filepath.Abs(cfg.Data); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if cfg.path != "" {
		if cfg.path, err = filepath.Abs(cfg.path); err != nil {
			return fmt.Errorf("config file: %w", err)
		}
	}
	if sock := cfg.socketPath(); server.Answers(sock) {
		return keymeter.Errorf(keymeter.ECONFLICT, "keymeter serve is already running for %s (it answers on %s): stop it first", cfg.Data, sock)
	}

	var sources []server.Source
	add := func(url, format, ival, endpoint, region, base string) error {
		src := server.Source{URL: url}
		kind := src.Kind()
		if kind == "dir" {
			if !filepath.IsAbs(url) && base != "" {
				url = filepath.Join(base, url)
			}
			abs, err := filepath.Abs(url)
			if err != nil {
				return fmt.Errorf("source %s: %w", url, err)
			}
			src.URL = abs
		}
		if kind == "kinesis" && format == "" {
			format = "cloudfront-realtime"
		}
		def := map[string]time.Duration{"dir": 2 * time.Second, "s3": time.Minute, "kinesis": time.Second}[kind]
		src.Interval = durationOr(ival, def)
		src.Config = cfg.ingestConfig(&ingestOptions{format: format, commitEvery: time.Second}, nil)
		src.S3 = (&ingestOptions{endpoint: endpoint, region: region}).s3Config()
		src.Kinesis = kinesis.Config{Endpoint: endpoint, Region: region}
		sources = append(sources, src)
		return nil
	}
	base := ""
	if cfg.path != "" {
		base = filepath.Dir(cfg.path)
	}
	for _, sc := range cfg.Serve.Sources {
		if err := add(sc.Source, sc.Format, sc.Interval, sc.Endpoint, sc.Region, base); err != nil {
			return err
		}
	}
	ival := ""
	if *interval > 0 {
		ival = interval.String()
	}
	for _, p := range pos {
		if err := add(p, *format, ival, *endpoint, *region, ""); err != nil {
			return err
		}
	}

	if cfg.MemoryLimit == "" {
		cfg.MemoryLimit = serveMemoryLimit
	}
	db, err := cfg.openStoreWith(ctx, duckdb.Options{MemoryLimit: cfg.MemoryLimit, NoExternalAccess: true})
	if err != nil {
		return err
	}
	st := stores(db)
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	shared := server.NewShared(st)
	shared.QueryTimeout = durationOr(cfg.Serve.QueryTimeout, 30*time.Second)
	svc := m.service(cfg)
	svc.Open = shared.Open
	addr := *listen
	if addr == "" {
		addr = cfg.Serve.Listen
	}
	if addr == "" {
		addr = defaultListen
	}
	if m.Getenv("GOGC") == "" {
		// Ingest streams; a lower GC target keeps the heap flat.
		debug.SetGCPercent(50)
	}
	// The billing config, read once: the API's and the dashboard's
	// customers, invoices and costs. A missing default file means none.
	// A billing config that cannot be read does not stop ingestion: the
	// server logs why and serves without it (commands run beside it read
	// their own).
	bill, err := cfg.loadBilling("", m.Getenv)
	if err != nil {
		level := slog.LevelWarn
		if keymeter.ErrorCode(err) == keymeter.ENOTFOUND {
			level = slog.LevelInfo
		}
		logger.Log(ctx, level, "no billing config: the API's customer, invoice and cost routes answer 404", "reason", err.Error())
		bill = nil
	}
	workers, outbox := m.Workers, m.Outbox
	if len(cfg.Alerts.Rules) > 0 {
		// Alert rules are evaluated in each ingest commit (svc.Alerts);
		// their webhooks are delivered here, every few seconds.
		workers = append(slices.Clone(workers), func(ctx context.Context) error {
			return svc.RunAlertDelivery(ctx, alertDeliveryInterval, func(r *service.DeliveryReport) {
				if r.Attempts > 0 {
					logger.Info("alert webhooks", "attempts", r.Attempts, "delivered", r.Delivered, "failed", r.Failed,
						"dead", r.Dead, "pending", r.OutboxPending)
				}
			})
		})
	}
	if outbox == nil {
		outbox = func() (pending, dead int64) {
			counts, err := svc.AlertCounts(context.Background())
			if err != nil {
				logger.Warn("count the alert outbox for /metrics", "error", err)
				return 0, 0
			}
			return counts[alert.Pending], counts[alert.Dead]
		}
	}
	srv, err := server.New(server.Config{
		Listen:         addr,
		Service:        svc,
		Shared:         shared,
		Sources:        sources,
		Socket:         cfg.socketPath(),
		Run:            m.serveCommand(shared.Open),
		IdleCheckpoint: durationOr(cfg.Serve.IdleCheckpoint, 30*time.Second),
		Checkpoint:     db.Checkpoint,
		StoreFile:      cfg.storePath(),
		WALFile:        cfg.storePath() + ".wal",
		OnCommit:       m.OnCommit,
		Workers:        workers,
		Outbox:         outbox,
		Billing:        bill,
		Logger:         logger,
	})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// serveCommand returns how the server carries out the command of another
// keymeter process: the same Main, over the shared store, with the
// client's streams and environment, in the client's working directory
// (the server sets it).
func (m *Main) serveCommand(shared service.Opener) server.RunFunc {
	return func(ctx context.Context, c *server.Command) (code int) {
		sub := &Main{Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr, Now: m.Now, shared: shared,
			Getenv: func(k string) string {
				if k == "GOGC" {
					// The server's garbage collector is its own: a
					// command must not change it.
					return "server"
				}
				return c.Env[k]
			}}
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintf(c.Stderr, "keymeter: internal error: %v\n", r)
				code = exitError
			}
		}()
		return sub.report(sub.Run(ctx, c.Args))
	}
}
