package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/service"
	"github.com/keymeter/keymeter/source/kinesis"
	"github.com/keymeter/keymeter/source/s3"
)

// ingestMemoryLimit caps the embedded database's memory during ingest,
// unless the configuration says otherwise.
const ingestMemoryLimit = "64MB"

// ingestOptions are the flags of keymeter ingest.
type ingestOptions struct {
	format      string
	asJSON      bool
	strict      bool
	workers     int
	quiet       bool
	endpoint    string
	region      string
	follow      bool
	interval    time.Duration
	commitEvery time.Duration
	reprocess   bool
	force       bool
}

func (m *Main) runIngest(ctx context.Context, args []string) error {
	fs := m.newFlagSet("ingest", "[flags] SOURCE...",
		"Reads logs into the store. A SOURCE is a file, a directory (read recursively)\n"+
			"or a glob pattern; s3://BUCKET/PREFIX, the objects under a prefix; or\n"+
			"kinesis://STREAM, a Kinesis data stream (read from where the last run stopped;\n"+
			"alone, and --format then defaults to cloudfront-realtime). Files and objects\n"+
			"may be plain or gzip.\n\n"+
			"Formats: cloudfront (standard logs); cloudfront-realtime (real-time logs, also as\n"+
			"Firehose delivers them); apigateway (API Gateway access logs in every envelope:\n"+
			"lines, CloudWatch Logs subscription payloads as Kinesis, Lambda or Firehose\n"+
			"deliver them, and CloudWatch Logs exports to S3; apigateway-cloudwatch and\n"+
			"apigateway-export are other names for it). Without --format, each file or\n"+
			"object is read with the format it looks like; with one, a file that looks like\n"+
			"another format is reported, not read, and read by a later run with the right\n"+
			"--format.\n\n"+
			"Each request is counted once, however often its line, file or record is\n"+
			"ingested. Bad lines are rejected, counted and kept (see keymeter rejects); an\n"+
			"input every line of which is rejected is not recorded as ingested, so the next\n"+
			"run reads it again. Unreadable files are reported and the others still\n"+
			"ingested, and the command then exits with status 3.\n\n"+
			"With --follow, keymeter keeps reading a stream, or lists an S3 prefix again\n"+
			"every --interval, until interrupted (SIGINT, SIGTERM); it then commits what it\n"+
			"read and exits with status 0. S3 and Kinesis use the AWS credential chain\n"+
			"(environment, shared config and credentials files, SSO, instance roles).\n\n"+
			"With --reprocess, the inputs (files and s3://) are read again, ingested before\n"+
			"or not, and replace the events, rejects and records of their earlier reads, in\n"+
			"one transaction: all of them or, when one cannot be read completely or has every\n"+
			"line rejected, none. A replacement that changes what a finalized invoice counts\n"+
			"is refused (status 4) unless --force; forced, the difference is billed on the\n"+
			"customer's next invoice.")
	var common commonFlags
	common.register(fs, true)
	var o ingestOptions
	fs.StringVar(&o.format, "format", "", "log `format` of the sources: "+strings.Join(ingest.FormatNames(), ", ")+" (default: detected per file or object; cloudfront-realtime for kinesis://)")
	fs.BoolVar(&o.asJSON, "json", false, "print the summary as JSON")
	fs.BoolVar(&o.strict, "strict", false, "exit with status 3 when any line was rejected")
	fs.IntVar(&o.workers, "workers", 0, "files read in parallel (default: one per CPU)")
	fs.BoolVar(&o.quiet, "quiet", false, "do not show progress on a terminal")
	fs.StringVar(&o.endpoint, "endpoint", "", "`URL` of an S3- or Kinesis-compatible server instead of AWS (S3 then uses path-style addressing)")
	fs.StringVar(&o.region, "region", "", "AWS `region` of the bucket or stream (default: from the AWS environment, else us-east-1)")
	fs.BoolVar(&o.follow, "follow", false, "keep reading a kinesis:// stream, or list s3:// sources again every --interval, until interrupted")
	fs.DurationVar(&o.interval, "interval", time.Minute, "with --follow, the `time` between two listings of s3:// sources")
	fs.DurationVar(&o.commitEvery, "commit-every", time.Second, "for kinesis://, the longest `time` read records wait to be committed")
	fs.BoolVar(&o.reprocess, "reprocess", false, "read the inputs again and replace what their earlier reads stored (to correct --format, --fields or --key-param)")
	fs.BoolVar(&o.force, "force", false, "with --reprocess, replace even when finalized invoices change, billing the difference on the next invoices")
	srcs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		return &usageError{msg: "ingest: no SOURCE given", hint: "Usage: keymeter ingest [flags] SOURCE... (files, directories, glob patterns, s3://BUCKET/PREFIX or kinesis://STREAM)"}
	}
	formatSet := false
	fs.Visit(func(f *flag.Flag) { formatSet = formatSet || f.Name == "format" })
	src, err := classifySources(srcs)
	if err != nil {
		return err
	}
	if src.stream != "" && !formatSet {
		o.format = "cloudfront-realtime"
	}
	if o.format != "" && !slices.Contains(ingest.FormatNames(), o.format) {
		return &usageError{msg: fmt.Sprintf("ingest: unknown --format %q (want %s)", o.format, strings.Join(ingest.FormatNames(), ", "))}
	}
	switch {
	case o.follow && src.stream == "" && len(src.s3) == 0:
		return &usageError{msg: "ingest: --follow needs an s3:// or kinesis:// SOURCE"}
	case o.follow && len(src.files) > 0:
		return &usageError{msg: "ingest: --follow reads s3:// or kinesis:// sources, not files"}
	case (o.endpoint != "" || o.region != "") && src.stream == "" && len(src.s3) == 0:
		return &usageError{msg: "ingest: --endpoint and --region are for s3:// and kinesis:// sources"}
	case o.interval <= 0 || o.commitEvery <= 0:
		return &usageError{msg: "ingest: --interval and --commit-every must be positive"}
	case o.reprocess && (o.follow || src.stream != ""):
		return &usageError{msg: "ingest: --reprocess reads files and s3:// objects again, once: not with --follow or kinesis://"}
	case o.force && !o.reprocess:
		return &usageError{msg: "ingest: --force is for --reprocess"}
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}

	// Ingest streams: it needs little memory, and keeping it small keeps
	// peak memory flat however many lines are read.
	if cfg.MemoryLimit == "" {
		cfg.MemoryLimit = ingestMemoryLimit
	}
	if m.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(50))
	}
	svc := m.service(cfg)
	switch {
	case src.stream != "":
		return m.ingestKinesis(ctx, svc, cfg, &o, src.stream)
	case o.follow:
		return svc.FollowS3(ctx, service.FollowRequest{Config: cfg.ingestConfig(&o, nil), S3: src.s3, S3Config: o.s3Config(),
			Interval: o.interval, Polled: func(s *ingest.Summary) error { return m.writePoll(s, &o) }})
	}

	var progress *progressLine
	if !o.quiet && isTerminal(m.Stderr) {
		progress = &progressLine{w: m.Stderr, now: m.now, start: m.now()}
	}
	rep, runErr := svc.Ingest(ctx, service.IngestRequest{
		Config: cfg.ingestConfig(&o, progress.update), Files: src.files, S3: src.s3, S3Config: o.s3Config(), Force: o.force,
		Billing: func() (*service.Billing, error) { return cfg.loadBilling("", m.Getenv) },
	})
	progress.done()
	if rep == nil {
		return runErr
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(m.Stderr, "keymeter: %s\n", w)
	}
	sum := rep.Summary
	if sum == nil {
		return runErr
	}
	if o.asJSON {
		err = writeSummaryJSON(m.Stdout, sum, false)
	} else {
		err = writeSummary(m.Stdout, sum, false)
	}
	if runErr != nil {
		return runErr
	}
	if err != nil {
		return err
	}
	if len(sum.Failed) > 0 {
		return keymeter.Errorf(keymeter.EPARTIAL, "%d of %d inputs could not be read completely (listed above)", len(sum.Failed), sum.Objects)
	}
	if o.strict && sum.Rejected > 0 {
		return keymeter.Errorf(keymeter.EPARTIAL, "%d lines were rejected (--strict); see keymeter rejects", sum.Rejected)
	}
	return nil
}

// s3Config returns how to reach the s3:// sources: path-style addressing
// when an endpoint is given, as S3-compatible servers need.
func (o *ingestOptions) s3Config() s3.Config {
	return s3.Config{Endpoint: o.endpoint, Region: o.region, PathStyle: o.endpoint != ""}
}

// ingestKinesis reads a Kinesis stream of real-time logs from the
// checkpoints in the store: until caught up, or with --follow until ctx
// is done, committing what was read before it returns.
func (m *Main) ingestKinesis(ctx context.Context, svc *service.Service, cfg *Config, o *ingestOptions, url string) error {
	var progress *progressLine
	if !o.quiet && isTerminal(m.Stderr) {
		progress = &progressLine{w: m.Stderr, now: m.now, start: m.now(), stream: true}
	}
	sum, runErr := svc.IngestStream(ctx, service.StreamRequest{Config: cfg.ingestConfig(o, progress.update), URL: url,
		Kinesis: kinesis.Config{Endpoint: o.endpoint, Region: o.region, Follow: o.follow}})
	progress.done()
	if sum == nil {
		return runErr
	}
	var err error
	if o.asJSON {
		err = writeSummaryJSON(m.Stdout, sum, true)
	} else {
		err = writeSummary(m.Stdout, sum, true)
	}
	if runErr != nil {
		return runErr
	}
	if err != nil {
		return err
	}
	if o.strict && sum.Rejected > 0 {
		return keymeter.Errorf(keymeter.EPARTIAL, "%d records were rejected (--strict); see keymeter rejects", sum.Rejected)
	}
	return nil
}

// writePoll reports what one listing of a follower ingested: a line for
// people, or one JSON summary per line with --json. Its error (stdout
// closed, a full disk) stops the follower.
func (m *Main) writePoll(s *ingest.Summary, o *ingestOptions) error {
	if o.asJSON {
		return json.NewEncoder(m.Stdout).Encode(newSummaryJSON(s, false))
	}
	w := &errWriter{w: m.Stdout}
	fmt.Fprintf(w, "%s  %d new objects (%d read, %d skipped, %d failed): %d events stored, %d duplicates, %d rejected, %d unattributed (%d key header truncated)\n",
		m.now().UTC().Format(time.RFC3339), s.Objects, s.Read, len(s.Skipped), len(s.Failed), s.Events, s.Duplicates, s.Rejected,
		s.UnattributedTotal(), s.Unattributed[keymeter.KeyTruncated])
	for _, f := range s.Failed {
		fmt.Fprintf(w, "  failed: %s: %s\n", f.URI, f.Reason)
	}
	return w.err
}

// ingestConfig returns the configuration of an ingest run: the settings
// of the configuration (ingestSettings) and the run's flags. The service
// adds the secret.
func (cfg *Config) ingestConfig(o *ingestOptions, progress func(ingest.Summary)) ingest.Config {
	c := cfg.ingestSettings()
	c.Format = o.format
	c.Workers = o.workers
	c.CommitInterval = o.commitEvery
	c.Progress = progress
	c.Reprocess = o.reprocess
	return c
}

// sources are the SOURCE arguments of keymeter ingest, by kind.
type sources struct {
	files  []string // files, directories and patterns
	s3     []string // s3:// URLs
	stream string   // a kinesis:// URL
}

func classifySources(args []string) (sources, error) {
	var s sources
	kinesisURLs := 0
	for _, a := range args {
		switch lower := strings.ToLower(a); {
		case strings.HasPrefix(lower, "kinesis://"):
			s.stream = a
			kinesisURLs++
		case strings.HasPrefix(lower, "s3://"):
			s.s3 = append(s.s3, a)
		case strings.Contains(a, "://"):
			return s, &usageError{msg: fmt.Sprintf("ingest: %q: unknown kind of source (want a path, s3://BUCKET/PREFIX or kinesis://STREAM)", a)}
		default:
			s.files = append(s.files, a)
		}
	}
	if kinesisURLs > 0 && len(args) > 1 {
		return s, &usageError{msg: "ingest: a kinesis:// SOURCE must be the only one (run one keymeter per stream)"}
	}
	return s, nil
}

// writeSummary prints what an ingest run did, for people; stream says
// that it read a stream (records, not lines and files).
func writeSummary(w io.Writer, s *ingest.Summary, stream bool) error {
	unit := "lines"
	if stream {
		unit = "records"
	} else {
		fmt.Fprintf(w, "inputs:                %d (%d read, %d skipped, %d failed)\n", s.Objects, s.Read, len(s.Skipped), len(s.Failed))
	}
	fmt.Fprintf(w, "%-22s %d\n", unit+" read:", s.Lines)
	fmt.Fprintf(w, "events stored:         %d\n", s.Events)
	fmt.Fprintf(w, "duplicates skipped:    %d\n", s.Duplicates)
	fmt.Fprintf(w, "%-22s %d", unit+" rejected:", s.Rejected)
	if s.Rejected > 0 {
		fmt.Fprint(w, "   (see: keymeter rejects)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "unattributed requests: %d", s.UnattributedTotal())
	var parts []string
	if n := s.Unattributed[keymeter.NoKey]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d without a key", n))
	}
	if n := s.Unattributed[keymeter.KeyTruncated]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d with the key header truncated", n))
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "   (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	if days := s.UnattributedDays(keymeter.KeyTruncated); len(days) > 0 {
		fmt.Fprintln(w, "key header truncated, per day (CloudFront's 800-byte cut of cs-headers dropped the key):")
		for _, d := range days {
			fmt.Fprintf(w, "  %s  %d\n", d.Day.Format("2006-01-02"), d.Count)
		}
	}
	if stream {
		fmt.Fprintf(w, "lag behind the tip:    %s\n", s.Lag)
	}
	if s.Retracted > 0 {
		fmt.Fprintf(w, "events replaced:       %d   (stored by earlier reads of these inputs)\n", s.Retracted)
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintln(w, "skipped:")
		for _, sk := range s.Skipped {
			fmt.Fprintf(w, "  %s: %s\n", sk.URI, sk.Reason)
		}
	}
	if len(s.Failed) > 0 {
		fmt.Fprintln(w, "failed:")
		for _, f := range s.Failed {
			fmt.Fprintf(w, "  %s: %s\n", f.URI, f.Reason)
		}
	}
	if len(s.NotRecorded) > 0 {
		fmt.Fprintln(w, "not recorded as ingested (every line was rejected: check --format, --fields; the next run reads them again):")
		for _, uri := range s.NotRecorded {
			fmt.Fprintf(w, "  %s\n", uri)
		}
	}
	return nil
}

// summaryJSON is the JSON form of an ingest summary.
type summaryJSON struct {
	Inputs       int              `json:"inputs"`
	Read         int              `json:"read"`
	Lines        int64            `json:"lines"`
	Events       int64            `json:"events"`
	Duplicates   int64            `json:"duplicates"`
	Rejected     int64            `json:"rejected"`
	Unattributed int64            `json:"unattributed"`
	ByReason     map[string]int64 `json:"unattributed_by_reason"`
	// TruncatedByDay counts the requests whose key header was cut, per
	// UTC day ("2025-10-01").
	TruncatedByDay map[string]int64 `json:"key_truncated_by_day"`
	LagMillis      *int64           `json:"lag_ms,omitempty"` // streams only
	Skipped        []ingest.Skipped `json:"skipped"`
	Failed         []ingest.Failed  `json:"failed"`
	// NotRecorded are the inputs every line of which was rejected: they
	// are read again by the next run. Replaced counts the events of
	// earlier reads that --reprocess replaced.
	NotRecorded []string `json:"not_recorded"`
	Replaced    int64    `json:"replaced"`
}

func newSummaryJSON(s *ingest.Summary, stream bool) summaryJSON {
	out := summaryJSON{
		Inputs: s.Objects, Read: s.Read, Lines: s.Lines, Events: s.Events, Duplicates: s.Duplicates,
		Rejected: s.Rejected, Unattributed: s.UnattributedTotal(), ByReason: map[string]int64{},
		TruncatedByDay: map[string]int64{}, Skipped: s.Skipped, Failed: s.Failed, NotRecorded: s.NotRecorded, Replaced: s.Retracted,
	}
	if out.NotRecorded == nil {
		out.NotRecorded = []string{}
	}
	for a := keymeter.Attribution(1); a < keymeter.NumAttributions; a++ {
		out.ByReason[a.String()] = s.Unattributed[a]
	}
	for _, d := range s.UnattributedDays(keymeter.KeyTruncated) {
		out.TruncatedByDay[d.Day.Format("2006-01-02")] = d.Count
	}
	if stream {
		lag := s.Lag.Milliseconds()
		out.LagMillis = &lag
	}
	if out.Skipped == nil {
		out.Skipped = []ingest.Skipped{}
	}
	if out.Failed == nil {
		out.Failed = []ingest.Failed{}
	}
	return out
}

func writeSummaryJSON(w io.Writer, s *ingest.Summary, stream bool) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(newSummaryJSON(s, stream))
}

// progressLine shows a running count on a terminal. A nil *progressLine
// shows nothing. For a stream, it shows the recent rate of records and
// how far the stream's furthest-behind shard is behind its tip.
type progressLine struct {
	mu     sync.Mutex
	w      io.Writer
	now    func() time.Time // the clock
	start  time.Time
	last   time.Time
	shown  bool
	stream bool
	// the count and time the stream's rate is measured from
	rateLines int64
	rateAt    time.Time
	rate      float64
}

func (p *progressLine) update(s ingest.Summary) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	if p.stream {
		if p.rateAt.IsZero() {
			p.rateAt = p.start
		}
		if d := now.Sub(p.rateAt); d >= time.Second {
			p.rate = float64(s.Lines-p.rateLines) / d.Seconds()
			p.rateLines, p.rateAt = s.Lines, now
		}
		fmt.Fprintf(p.w, "\r%d records (%.0f records/s), %d events stored, %d duplicates, %d rejected, lag %s \033[K",
			s.Lines, p.rate, s.Events, s.Duplicates, s.Rejected, s.Lag.Round(100*time.Millisecond))
		p.shown = true
		return
	}
	var rate float64
	if d := now.Sub(p.start); d > 0 {
		rate = float64(s.Lines) / d.Seconds()
	}
	fmt.Fprintf(p.w, "\r%d/%d inputs, %d lines (%.0f lines/s), %d events stored, %d duplicates, %d rejected ",
		s.Read+len(s.Skipped)+len(s.Failed), s.Objects, s.Lines, rate, s.Events, s.Duplicates, s.Rejected)
	p.shown = true
}

func (p *progressLine) done() {
	if p == nil || !p.shown {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
