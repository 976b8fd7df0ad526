// Command bench measures keymeter's ingest and query speed against the
// floor set by decompression alone, on generated CloudFront logs.
//
//	make bench                          # scripts/testenv.sh go run ./bench: all of it
//	go run ./bench                      # 4 million lines in 16 gzip files (no Kinesis)
//	go run ./bench -lines 1000000 -files 4
//	go run ./bench -events 50000000     # also: the monthly query over 50 M stored events
//
// It reports, in one run on one machine: (a) the time to decompress the
// files and count their lines with klauspost/compress's gzip reader, one
// goroutine per core (the floor: nothing can ingest faster); (b) the time
// of `keymeter ingest` of the same files into an empty store, run as its
// own process, with its peak resident memory; (c) the time of a per-key
// usage query for the month; and, with -events, (d) the same query over a
// store holding that many events spread over 12.5 months.
//
// Then (g) the same files decompressed, parsed and written to a Parquet
// lake by lake.Writer, without a store (bench/lake.go).
//
// Then, for CloudFront real-time logs: (e) `keymeter ingest --format
// cloudfront-realtime` of as many real-time records (all 45 documented
// fields, in Firehose-style gzip objects), against (b) per line; and,
// when KINESIS_ENDPOINT names a kinesalite (scripts/testenv.sh starts
// one), (f) reading -kinesis records from a 4-shard stream: first with
// source/kinesis alone, counting records (the emulator's floor), then with
// `keymeter ingest kinesis://` as its own process, with the share of a
// core it used (user and system time over wall time, from rusage).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/store/duckdb"
)

func main() {
	lines := flag.Int("lines", 4_000_000, "log lines to generate")
	files := flag.Int("files", 16, "gzip files to spread them over")
	dir := flag.String("dir", "", "work directory (default: a temporary one, removed afterwards)")
	events := flag.Int("events", 0, "also time the monthly query over a store of this many events (e.g. 50000000)")
	runs := flag.Int("runs", 3, "floor and query repetitions (the best is reported)")
	realtime := flag.Int("realtime", -1, "real-time records to ingest from files (default: -lines; 0 skips)")
	kinesisRecords := flag.Int("kinesis", 100_000, "records to read from kinesalite at $KINESIS_ENDPOINT (0 skips)")
	serve := flag.Bool("serve", false, "measure keymeter serve instead: ingest rate while loaded with -route at -rate, latencies, RSS")
	route := flag.String("route", "/api/v1/usage?from=2025-10-01&to=2025-11-01&by=customer", "with -serve, the `route` to load (/healthz if it answers 404)")
	rate := flag.Int("rate", 200, "with -serve, requests per second")
	after := flag.Duration("after", 10*time.Second, "with -serve, how long to keep loading once ingestion is done")
	flag.Parse()
	if *serve {
		if err := runServe(*lines, *files, *dir, serveBench{route: *route, rate: *rate, after: *after}); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *realtime < 0 {
		*realtime = *lines
	}
	rt := realtimeBench{records: *realtime, kinesis: *kinesisRecords, endpoint: os.Getenv("KINESIS_ENDPOINT")}
	if err := run(*lines, *files, *dir, *events, *runs, rt); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(lines, nfiles int, dir string, events, runs int, rt realtimeBench) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "keymeter-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	logs := filepath.Join(dir, "logs")
	fmt.Printf("machine: %s, %d cores, %s; %s; load average %s\n", cpuModel(), runtime.NumCPU(), runtime.Version(),
		time.Now().UTC().Format("2006-01-02"), loadAverage())

	t0 := time.Now()
	paths, size, err := generate(logs, lines, nfiles)
	if err != nil {
		return err
	}
	fmt.Printf("generated %d lines in %d gzip files (%d MB) in %.1fs\n\n", lines, nfiles, size>>20, time.Since(t0).Seconds())

	floor := time.Duration(1<<63 - 1)
	for range runs {
		d, n, err := decompressOnly(paths)
		if err != nil {
			return err
		}
		if n != int64(lines+2*nfiles) {
			return fmt.Errorf("floor counted %d lines, want %d", n, lines+2*nfiles)
		}
		floor = min(floor, d)
	}
	report("(a) decompress and count lines (floor)", floor, lines, "")

	bin := filepath.Join(dir, "keymeter")
	build := exec.Command("go", "build", "-o", bin, "./cmd/keymeter")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build keymeter (run bench from the repository root): %w", err)
	}
	// Ingest is timed -runs times into a fresh store, as the floor is: the
	// best run shows what the code can do, the worst what a shared
	// machine did to it.
	data := filepath.Join(dir, "data")
	var times []time.Duration
	var peak int64
	for range runs {
		os.RemoveAll(data)
		cmd := exec.Command(bin, "ingest", "--quiet", "--json", "--data", data, logs)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		d, rss, err := runWatched(cmd)
		if err != nil {
			return fmt.Errorf("keymeter ingest: %w\n%s", err, out.String())
		}
		times = append(times, d)
		peak = max(peak, rss)
		var sum struct{ Events int64 }
		if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Events != int64(lines) {
			return fmt.Errorf("ingest stored %d events (%v), want %d", sum.Events, err, lines)
		}
	}
	slices.Sort(times)
	ingestTime := times[0]
	rt.standardRate = float64(lines) / ingestTime.Seconds()
	report("(b) keymeter ingest into an empty store", ingestTime, lines,
		fmt.Sprintf("%.2fx the floor (best of %d; worst %.2fs)", ingestTime.Seconds()/floor.Seconds(), len(times), times[len(times)-1].Seconds()))
	fmt.Printf("%-48s %d MB (the most of %d runs)\n", "(d) peak memory (RSS) of keymeter ingest", peak, len(times))

	q, err := monthlyQuery(filepath.Join(data, "keymeter.duckdb"), runs)
	if err != nil {
		return err
	}
	fmt.Printf("%-48s %s (median of %d: %s)\n", "(c) usage --by api_key for the month", ms(q[0]), len(q), ms(q[len(q)/2]))
	cli := exec.Command(bin, "usage", "--data", data, "--from", "2025-10-01", "--to", "2025-11-01", "--by", "api_key", "--format", "json")
	start := time.Now()
	if err := cli.Run(); err != nil {
		return fmt.Errorf("keymeter usage: %w", err)
	}
	fmt.Printf("%-48s %s\n", "    the same, as a whole keymeter process", ms(time.Since(start)))
	if st, err := os.Stat(filepath.Join(data, "keymeter.duckdb")); err == nil {
		fmt.Printf("%-48s %d MB (%d bytes per event)\n", "    store size", st.Size()>>20, st.Size()/int64(lines))
	}

	if err := lakeWrite(paths, dir, lines, floor); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	if events > 0 {
		if err := bigStore(dir, events, runs); err != nil {
			return err
		}
	}
	return rt.run(dir, bin, nfiles)
}

// runServe generates the logs and builds keymeter as run does, then
// measures serve (serveBench).
func runServe(lines, nfiles int, dir string, sb serveBench) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "keymeter-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	logs := filepath.Join(dir, "logs")
	fmt.Printf("machine: %s, %d cores, %s; %s; load average %s\n", cpuModel(), runtime.NumCPU(), runtime.Version(),
		time.Now().UTC().Format("2006-01-02"), loadAverage())
	if _, _, err := generate(logs, lines, nfiles); err != nil {
		return err
	}
	bin := filepath.Join(dir, "keymeter")
	build := exec.Command("go", "build", "-o", bin, "./cmd/keymeter")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build keymeter (run bench from the repository root): %w", err)
	}
	return sb.run(dir, bin, logs, lines)
}

func report(what string, d time.Duration, lines int, extra string) {
	fmt.Printf("%-48s %6.2fs  %5.2f M lines/s  %s\n", what, d.Seconds(), float64(lines)/d.Seconds()/1e6, extra)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// generate writes the benchmark's logs, unless the directory already holds
// them: one month, each file covering its own slice of the month in
// random order within it, as CloudFront delivers hourly files.
func generate(dir string, lines, nfiles int) ([]string, int64, error) {
	manifest := filepath.Join(dir, fmt.Sprintf("manifest-%d-%d", lines, nfiles))
	paths := make([]string, nfiles)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("E2BENCH.2025-10-%02d.%02d.gz", 1+i*31/nfiles, i))
	}
	size := func() int64 {
		var n int64
		for _, p := range paths {
			if st, err := os.Stat(p); err == nil {
				n += st.Size()
			}
		}
		return n
	}
	if _, err := os.Stat(manifest); err == nil {
		return paths, size(), nil
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, err
	}
	month := 31 * 24 * time.Hour
	var wg sync.WaitGroup
	errs := make([]error, nfiles)
	sem := make(chan struct{}, runtime.NumCPU())
	for i := range nfiles {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			g := loggen.New(loggen.Config{
				Seed: uint64(i + 1), KeySeed: 7, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * month / time.Duration(nfiles)),
				Span: month / time.Duration(nfiles), Customers: 40, KeysPerCustomer: 3, UnknownKeys: 10, NoKeyPercent: 3, Paths: 200,
			})
			errs[i] = writeStandard(paths[i], g, lines/nfiles+boolInt(i < lines%nfiles))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, 0, err
		}
	}
	return paths, size(), os.WriteFile(manifest, nil, 0o644)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeGzip writes a gzip file at path (creating its directory) of head
// followed by n records, each appended to a buffer by next.
func writeGzip(path, head string, n int, next func([]byte) []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, 6)
	w := bufio.NewWriterSize(zw, 1<<20)
	w.WriteString(head)
	var buf []byte
	for range n {
		buf = next(buf[:0])
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// writeStandard writes n CloudFront standard log lines from g.
func writeStandard(path string, g *loggen.Gen, n int) error {
	var r loggen.Record
	return writeGzip(path, loggen.Header(loggen.StandardFields), n, func(buf []byte) []byte {
		g.Next(&r)
		return r.AppendLine(buf, loggen.StandardFields)
	})
}

// decompressOnly decompresses every file and counts its lines, one file
// per goroutine and one goroutine per core.
func decompressOnly(paths []string) (time.Duration, int64, error) {
	start := time.Now()
	jobs := make(chan string)
	var mu sync.Mutex
	var total int64
	var firstErr error
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for p := range jobs {
				n, err := countLines(p, buf)
				mu.Lock()
				total += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range paths {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	return time.Since(start), total, firstErr
}

func countLines(path string, buf []byte) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, err
	}
	var n int64
	for {
		k, err := zr.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// monthlyQuery opens the store read-only and times the per-key usage
// query for October 2025, after one warm-up; it returns the sorted times.
func monthlyQuery(path string, runs int) ([]time.Duration, error) {
	ctx := context.Background()
	db, err := duckdb.Open(ctx, path, duckdb.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	q := keymeter.UsageQuery{
		From: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC),
		By: []keymeter.Dimension{keymeter.DimAPIKey},
	}
	if _, err := db.Usage(ctx, q); err != nil {
		return nil, err
	}
	var times []time.Duration
	for range max(runs, 5) {
		start := time.Now()
		rows, err := db.Usage(ctx, q)
		if err != nil {
			return nil, err
		}
		times = append(times, time.Since(start))
		if len(rows) == 0 {
			return nil, fmt.Errorf("the usage query found nothing")
		}
	}
	slices.Sort(times)
	return times, nil
}

// bigStore fills a store with n synthetic events spread evenly over 12.5
// months (Oct 2024 to mid-Nov 2025) through keymeter's own writer, then
// times the per-key query for October 2025.
func bigStore(dir string, n, runs int) error {
	ctx := context.Background()
	path := filepath.Join(dir, "big", "keymeter.duckdb")
	os.RemoveAll(filepath.Dir(path))
	os.MkdirAll(filepath.Dir(path), 0o755)
	db, err := duckdb.Open(ctx, path, duckdb.Options{MemoryLimit: "512MB"})
	if err != nil {
		return err
	}
	start := time.Now()
	w, err := db.NewWriter(ctx)
	if err != nil {
		return err
	}
	first := time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	span := time.Date(2025, 11, 16, 0, 0, 0, 0, time.UTC).UnixMicro() - first
	fp := keymeter.NewFingerprinter([]byte("bench"))
	var keys []keymeter.KeyFingerprint
	for k := range 150 {
		keys = append(keys, fp.Fingerprint([]byte(fmt.Sprintf("bench-key-%03d-0123456789", k))))
	}
	b := &keymeter.Batch{Source: keymeter.SourceCloudFront, Object: &keymeter.Object{URI: "synthetic"}, Keys: keys}
	rest := []byte("synthetic-request-id-0000000000000000000000000000000000==\t192.0.2.1\tcf_api_key=x\t-\t-")
	for i := 0; i < n; {
		b.Rows, b.Rest = b.Rows[:0], b.Rest[:0]
		for ; len(b.Rows) < 8192 && i < n; i++ {
			b.Rest = append(b.Rest, rest...)
			b.Rows = append(b.Rows, keymeter.Row{
				Time: first + span/int64(n)*int64(i), ID: [2]uint64{uint64(i) + 1, 0x9e3779b97f4a7c15 * uint64(i+1)},
				KeyID: keys[i%len(keys)].ID, Status: 200, BytesSent: int64(500 + i%5000), BytesRecv: int64(200 + i%300),
				TimeTaken: int32(1 + i%900), TTFB: -1, ClientPort: -1, FLEEncrypt: -1, ContentLen: -1, RangeStart: -1, RangeEnd: -1,
				RestEnd: uint32(len(b.Rest)),
			})
		}
		if _, err := w.Write(ctx, b); err != nil {
			return err
		}
		b.Keys = nil
		if i%(2<<20) < 8192 {
			if err := w.Commit(ctx); err != nil {
				return err
			}
		}
	}
	if err := w.Commit(ctx); err != nil {
		return err
	}
	w.Close()
	db.Close()
	fmt.Printf("\nfilled a store with %d events over 12.5 months in %.0fs\n", n, time.Since(start).Seconds())
	q, err := monthlyQuery(path, runs)
	if err != nil {
		return err
	}
	fmt.Printf("%-48s %s (median of %d: %s)\n", fmt.Sprintf("(c') the monthly query, %d M events stored", n/1_000_000), ms(q[0]), len(q), ms(q[len(q)/2]))
	return nil
}

// loadAverage returns the 1, 5 and 15 minute load averages: figures
// taken on a busy machine say so.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
		}
	}
	return runtime.GOARCH
}

// runWatched runs cmd and returns how long it took and its peak resident
// memory in MB. The peak is the last VmHWM read from /proc while it runs:
// the rusage of a child counts the parent's own peak, folded in when the
// child execs, which would charge keymeter with the benchmark's memory.
func runWatched(cmd *exec.Cmd) (time.Duration, int64, error) {
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if b, err := os.ReadFile(status); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if kb, ok := strings.CutPrefix(l, "VmHWM:"); ok {
						var n int64
						fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), &n)
						peak.Store(max(peak.Load(), n>>10))
					}
				}
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	d := time.Since(start)
	close(done)
	return d, peak.Load(), err
}
