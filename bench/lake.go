package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/zeebo/xxh3"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/lake"
)

// lakeWrite times (g): the same files decompressed, parsed and written to
// a Parquet lake with lake.Writer, one goroutine per core, each file one
// batch, without a store: what ingest into the lake would cost beyond
// attribution and dedupe, which ingest does not do for the lake yet. The
// query string stands in for ingest's redaction: replaced by a 32-digit
// hash when it has parameters, so that no generated key is written.
func lakeWrite(paths []string, dir string, lines int, floor time.Duration) error {
	root, err := lake.NewLocal(filepath.Join(dir, "lake"))
	if err != nil {
		return err
	}
	defer os.RemoveAll(root.Dir())
	lw, err := lake.NewWriter(root, lake.Options{})
	if err != nil {
		return err
	}
	start := time.Now()
	jobs := make(chan string)
	var mu sync.Mutex
	var rows, size int64
	var firstErr error
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				n, b, err := lakeFile(lw, p)
				mu.Lock()
				rows, size = rows+n, size+b
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
	d := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	if rows != int64(lines) {
		return fmt.Errorf("the lake has %d rows, want %d", rows, lines)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	report("(g) gunzip, parse, write the Parquet lake", d, lines, fmt.Sprintf("%.2fx the floor (no store: see README)", d.Seconds()/floor.Seconds()))
	fmt.Printf("%-48s %d MB (%.1f bytes per event; Go runtime memory %d MB)\n", "    lake size", size>>20, float64(size)/float64(lines), ms.Sys>>20)
	return nil
}

func lakeFile(lw *lake.Writer, path string) (int64, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, 0, err
	}
	ctx := context.Background()
	b, err := lw.Begin(ctx, path, time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var p cloudfront.Parser
	var ev keymeter.Event
	var hexq [32]byte
	facts := lake.Facts{Object: path}
	for sc.Scan() {
		ok, err := p.Parse(sc.Bytes(), &ev)
		if err != nil {
			b.Abort()
			return 0, 0, err
		}
		if !ok {
			continue
		}
		if q := ev.Fields[keymeter.FieldQuery]; bytes.IndexByte(q, '=') >= 0 {
			h := xxh3.Hash128(q).Bytes()
			hex.Encode(hexq[:], h[:])
			ev.Fields[keymeter.FieldQuery] = hexq[:]
		}
		if err := b.Add(&ev, &facts); err != nil {
			return 0, 0, err
		}
	}
	if err := sc.Err(); err != nil {
		b.Abort()
		return 0, 0, err
	}
	entries, err := b.Finish(ctx)
	if err != nil {
		return 0, 0, err
	}
	var n, size int64
	for _, e := range entries {
		n, size = n+e.Rows, size+e.Bytes
	}
	return n, size, nil
}
