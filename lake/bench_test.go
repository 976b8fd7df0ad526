package lake_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/lake"
)

// benchEvents generates and parses standard-log events, chunk by chunk,
// for the benchmark and the allocation test, outside of what they
// measure.
type benchEvents struct {
	g      *loggen.Gen
	p      cloudfront.Parser
	recs   []loggen.Record
	lines  []byte
	events []keymeter.Event
	facts  []lake.Facts
}

func newBenchEvents(tb testing.TB, chunk int) *benchEvents {
	cfg := loggen.Config{
		Seed: 42, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 20, KeysPerCustomer: 3, UnknownKeys: 5, NoKeyPercent: 10, Paths: 200,
	}
	e := &benchEvents{
		g: loggen.New(cfg), recs: make([]loggen.Record, chunk),
		events: make([]keymeter.Event, chunk), facts: make([]lake.Facts, chunk),
	}
	for _, l := range strings.Split(strings.TrimSuffix(loggen.Header(loggen.StandardFields), "\n"), "\n") {
		if _, err := e.p.Parse([]byte(l), &e.events[0]); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

// next fills the chunk with the next events, their keys fingerprinted.
func (e *benchEvents) next(tb testing.TB) {
	e.lines = e.lines[:0]
	ends := make([]int, len(e.recs))
	for i := range e.recs {
		e.g.Next(&e.recs[i])
		redactQuery(tb, &e.recs[i])
		e.lines = e.recs[i].AppendLine(e.lines, loggen.StandardFields)
		ends[i] = len(e.lines) - 1
	}
	start := 0
	for i := range e.recs {
		if ok, err := e.p.Parse(e.lines[start:ends[i]], &e.events[i]); !ok || err != nil {
			tb.Fatal(ok, err)
		}
		start = ends[i] + 1
		e.facts[i] = lake.Facts{Object: "s3://logs/E2EXAMPLE.2025-10-01-00.gz"}
		if k := e.recs[i].Key; k != nil {
			e.facts[i].Key, e.facts[i].Customer = fingerprint(k.Key), k.Customer
		} else {
			e.facts[i].Attribution = keymeter.NoKey
		}
	}
}

// BenchmarkWriteCloudFront writes 1 M generated CloudFront standard-log
// events (internal/loggen, keys fingerprinted) as one batch: one file of
// one day. Generating and parsing the lines is not measured. It reports
// rows/s (wall clock), CPU time per row (all threads, GC included), the
// file's bytes per row, and allocations (per 1 M rows, and per row).
func BenchmarkWriteCloudFront(b *testing.B) {
	const rows, chunk = 1 << 20, 4096
	for _, codec := range []string{"zstd", "snappy"} {
		b.Run(codec, func(b *testing.B) {
			var wall, cpu time.Duration
			var bytes int64
			var mallocs uint64
			var ms runtime.MemStats
			for range b.N {
				b.StopTimer()
				root, w := newLake(b, lake.Options{Compression: codec})
				e := newBenchEvents(b, chunk)
				batch, err := w.Begin(ctx, "bench", loadedAt)
				if err != nil {
					b.Fatal(err)
				}
				measure := func(f func()) {
					runtime.ReadMemStats(&ms)
					m0, c0, t0 := ms.Mallocs, cpuTime(), time.Now()
					b.StartTimer()
					f()
					b.StopTimer()
					wall += time.Since(t0)
					cpu += cpuTime() - c0
					runtime.ReadMemStats(&ms)
					mallocs += ms.Mallocs - m0
				}
				for done := 0; done < rows; done += chunk {
					e.next(b)
					measure(func() {
						for i := range e.events {
							if err := batch.Add(&e.events[i], &e.facts[i]); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
				var entries []lake.Entry
				measure(func() { entries, err = batch.Finish(ctx) })
				if err != nil {
					b.Fatal(err)
				}
				for _, en := range entries {
					bytes += en.Bytes
				}
				_ = root
			}
			n := float64(b.N) * rows
			b.ReportMetric(n/wall.Seconds(), "rows/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/row")
			b.ReportMetric(float64(bytes)/n, "disk-B/row")
			b.ReportMetric(float64(mallocs)/n, "allocs/row")
		})
	}
}

// TestAddDoesNotAllocate checks that adding an event does not allocate:
// what remains, a few hundred allocations over 20,000 events, are the
// Parquet writer's buffers and dictionaries growing.
func TestAddDoesNotAllocate(t *testing.T) {
	_, w := newLake(t, lake.Options{})
	batch, err := w.Begin(ctx, "allocs", loadedAt)
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Abort()
	e := newBenchEvents(t, 4096)
	var mallocs, rows uint64
	var ms runtime.MemStats
	for round := range 6 {
		e.next(t)
		runtime.ReadMemStats(&ms)
		m0 := ms.Mallocs
		for i := range e.events {
			if err := batch.Add(&e.events[i], &e.facts[i]); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&ms)
		if round > 0 { // the first round opens the file
			mallocs += ms.Mallocs - m0
			rows += uint64(len(e.events))
		}
	}
	if per := float64(mallocs) / float64(rows); per >= 0.1 {
		t.Errorf("%d allocations for %d events: %.3f per event", mallocs, rows, per)
	}
}
