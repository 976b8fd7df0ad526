package lake_test

import (
	"os"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/lake"
)

// BenchmarkWriteCloudFront writes 1 M generated CloudFront standard-log
// events (keys fingerprinted) as one batch: one file of one day. It
// reports rows/s, the file's bytes per row and allocations per row; the
// generation and parsing of the lines are not timed.
func BenchmarkWriteCloudFront(b *testing.B) {
	const rows, chunk = 1_000_000, 4096
	for _, opts := range []lake.Options{{}, {Compression: "snappy"}} {
		name := opts.Compression
		if name == "" {
			name = "zstd"
		}
		b.Run(name, func(b *testing.B) {
			var bytes int64
			var elapsed time.Duration
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				g := loggen.New(loggen.Config{
					Seed: 42, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
					Customers: 20, KeysPerCustomer: 3, UnknownKeys: 5, NoKeyPercent: 10, Paths: 200,
				})
				var p cloudfront.Parser
				var scratch keymeter.Event
				for _, l := range []string{"#Version: 1.0", "#Fields: " + joinFields(loggen.StandardFields)} {
					p.Parse([]byte(l), &scratch)
				}
				dir := b.TempDir()
				root, err := lake.NewLocal(dir)
				if err != nil {
					b.Fatal(err)
				}
				w, err := lake.NewWriter(root, opts)
				if err != nil {
					b.Fatal(err)
				}
				events := make([]keymeter.Event, chunk)
				facts := make([]lake.Facts, chunk)
				var lines []byte
				batch, err := w.Begin(ctx, "bench", loadedAt)
				if err != nil {
					b.Fatal(err)
				}
				for done := 0; done < rows; done += chunk {
					b.StopTimer()
					lines = lines[:0]
					var ends [chunk]int
					var recs [chunk]loggen.Record
					for i := range chunk {
						g.Next(&recs[i])
						redactQuery(b, &recs[i])
						lines = recs[i].AppendLine(lines, loggen.StandardFields)
						ends[i] = len(lines) - 1
					}
					start := 0
					for i := range chunk {
						if ok, err := p.Parse(lines[start:ends[i]], &events[i]); !ok || err != nil {
							b.Fatal(ok, err)
						}
						start = ends[i] + 1
						facts[i] = lake.Facts{ID: [2]uint64{uint64(done + i), uint64(done+i) * 0x9e3779b97f4a7c15}, Object: "s3://logs/E2EXAMPLE.gz"}
						if recs[i].Key != nil {
							facts[i].Key = fingerprints[recs[i].Key.Key]
							facts[i].Customer = recs[i].Key.Customer
						} else {
							facts[i].Attribution = keymeter.NoKey
						}
					}
					start0 := time.Now()
					b.StartTimer()
					for i := range chunk {
						if err := batch.Add(&events[i], &facts[i]); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					elapsed += time.Since(start0)
				}
				start0 := time.Now()
				b.StartTimer()
				entries, err := batch.Finish(ctx)
				b.StopTimer()
				elapsed += time.Since(start0)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range entries {
					st, err := os.Stat(root.Location(e.Path))
					if err != nil {
						b.Fatal(err)
					}
					bytes += st.Size()
				}
			}
			n := float64(b.N) * float64(rows/chunk*chunk)
			b.ReportMetric(n/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(bytes)/n, "disk-B/row")
		})
	}
}

// fingerprints caches the fingerprint of each generated key.
var fingerprints = map[string]string{}

func init() {
	g := loggen.New(loggen.Config{Seed: 42, Customers: 20, KeysPerCustomer: 3, UnknownKeys: 5})
	for _, k := range g.Keys() {
		fingerprints[k.Key] = fingerprinter.Fingerprint([]byte(k.Key)).Fingerprint
	}
}

func joinFields(f []string) string {
	s := ""
	for i, x := range f {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}
