package main

import (
	"context"
	"encoding/json"
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
	"github.com/keymeter/keymeter/source/file"
)

// ingestMemoryLimit caps the embedded database's memory during ingest,
// unless the configuration says otherwise.
const ingestMemoryLimit = "96MB"

func (m *Main) runIngest(ctx context.Context, args []string) error {
	fs := m.newFlagSet("ingest", "[flags] SOURCE...",
		"Reads logs (plain or gzip) from files, directories (recursively) and glob\n"+
			"patterns into the store: CloudFront standard logs by default; API Gateway\n"+
			"access logs with --format apigateway (lines), apigateway-cloudwatch (CloudWatch\n"+
			"Logs subscription payloads, as Kinesis, Lambda or Firehose deliver them) or\n"+
			"apigateway-export (CloudWatch Logs exports to S3). Each request is counted once,\n"+
			"however often its line or its file is ingested. Bad lines are rejected, counted\n"+
			"and kept (see keymeter rejects); unreadable files are reported and the others\n"+
			"still ingested, and the command then exits with status 3.")
	var common commonFlags
	common.register(fs, true)
	format := fs.String("format", "cloudfront", "log `format` of the sources: "+strings.Join(ingest.FormatNames(), ", "))
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	strict := fs.Bool("strict", false, "exit with status 3 when any line was rejected")
	workers := fs.Int("workers", 0, "files read in parallel (default: one per CPU)")
	quiet := fs.Bool("quiet", false, "do not show progress on a terminal")
	srcs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		return &usageError{msg: "ingest: no SOURCE given", hint: "Usage: keymeter ingest [flags] SOURCE... (files, directories or glob patterns)"}
	}
	if !slices.Contains(ingest.FormatNames(), *format) {
		return &usageError{msg: fmt.Sprintf("ingest: unknown --format %q (want %s)", *format, strings.Join(ingest.FormatNames(), ", "))}
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
	files, argErrs := file.Expand(srcs)
	db, err := cfg.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := cfg.secret(ctx, db)
	if err != nil {
		return err
	}

	var progress *progressLine
	if !*quiet && isTerminal(m.Stderr) {
		progress = &progressLine{w: m.Stderr, start: time.Now()}
	}
	in, err := ingest.New(db, ingest.Config{
		Format:     *format,
		KeyParams:  cfg.KeyParams,
		Secret:     secret,
		Workers:    *workers,
		Progress:   progress.update,
		APIGateway: cfg.APIGateway.ingestConfig(),
	})
	if err != nil {
		return err
	}
	inputs := make([]ingest.Input, len(files))
	for i, f := range files {
		inputs[i] = ingest.Input{Object: f.Object, Open: f.Open}
	}
	sum, runErr := in.Run(ctx, inputs)
	progress.done()
	if sum == nil {
		return runErr
	}
	for _, e := range argErrs {
		sum.Failed = append(sum.Failed, ingest.Failed{URI: e.(*file.ArgError).Arg, Reason: e.(*file.ArgError).Err.Error()})
		sum.Objects++
	}
	if *asJSON {
		err = writeSummaryJSON(m.Stdout, sum)
	} else {
		err = writeSummary(m.Stdout, sum)
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
	if *strict && sum.Rejected > 0 {
		return keymeter.Errorf(keymeter.EPARTIAL, "%d lines were rejected (--strict); see keymeter rejects", sum.Rejected)
	}
	return nil
}

// writeSummary prints what an ingest run did, for people.
func writeSummary(w io.Writer, s *ingest.Summary) error {
	fmt.Fprintf(w, "inputs:                %d (%d read, %d skipped, %d failed)\n", s.Objects, s.Read, len(s.Skipped), len(s.Failed))
	fmt.Fprintf(w, "lines read:            %d\n", s.Lines)
	fmt.Fprintf(w, "events stored:         %d\n", s.Events)
	fmt.Fprintf(w, "duplicates skipped:    %d\n", s.Duplicates)
	fmt.Fprintf(w, "lines rejected:        %d", s.Rejected)
	if s.Rejected > 0 {
		fmt.Fprint(w, "   (see: keymeter rejects)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "unattributed requests: %d", s.UnattributedTotal())
	if n := s.Unattributed[keymeter.NoKey]; n > 0 {
		fmt.Fprintf(w, "   (%d without a key", n)
		if t := s.Unattributed[keymeter.KeyTruncated]; t > 0 {
			fmt.Fprintf(w, ", %d with the key header truncated", t)
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
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
	Skipped      []ingest.Skipped `json:"skipped"`
	Failed       []ingest.Failed  `json:"failed"`
}

func writeSummaryJSON(w io.Writer, s *ingest.Summary) error {
	out := summaryJSON{
		Inputs: s.Objects, Read: s.Read, Lines: s.Lines, Events: s.Events, Duplicates: s.Duplicates,
		Rejected: s.Rejected, Unattributed: s.UnattributedTotal(), ByReason: map[string]int64{},
		Skipped: s.Skipped, Failed: s.Failed,
	}
	for a := keymeter.Attribution(1); a < keymeter.NumAttributions; a++ {
		out.ByReason[a.String()] = s.Unattributed[a]
	}
	if out.Skipped == nil {
		out.Skipped = []ingest.Skipped{}
	}
	if out.Failed == nil {
		out.Failed = []ingest.Failed{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// progressLine shows a running count on a terminal. A nil *progressLine
// shows nothing.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  time.Time
	shown bool
}

func (p *progressLine) update(s ingest.Summary) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(s.Lines) / now.Sub(p.start).Seconds()
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
