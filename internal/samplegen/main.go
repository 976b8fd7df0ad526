// Command samplegen writes the sample logs shipped in testdata/sample:
// a month of CloudFront standard logs for three customers, generated
// deterministically, with the key file that assigns their keys.
//
//	go run ./internal/samplegen
package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/keymeter/keymeter/internal/loggen"
)

func main() {
	if err := write("testdata/sample"); err != nil {
		fmt.Fprintln(os.Stderr, "samplegen:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	gen := loggen.New(loggen.Config{
		Seed: 2025, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 31 * 24 * time.Hour,
		Customers: 3, CustomerNames: []string{"acme", "globex", "initech"}, KeysPerCustomer: 2, UnknownKeys: 1, NoKeyPercent: 5, Paths: 12,
	})
	recs := make([]loggen.Record, 6000)
	for i := range recs {
		gen.Next(&recs[i])
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	os.RemoveAll(filepath.Join(dir, "logs"))
	std := loggen.StandardFields
	for i := range 3 {
		var b bytes.Buffer
		b.WriteString(loggen.Header(std))
		part := recs[i*2000 : (i+1)*2000]
		for j := range part {
			b.Write(part[j].AppendLine(nil, std))
			if i == 2 && j == 1000 { // one line a broken proxy mangled
				line := string(part[j].AppendLine(nil, std))
				b.WriteString(strings.Replace(line, "\thttps\t", "\thttps\t\t", 1))
			}
		}
		start := part[0].Time
		name := fmt.Sprintf("E1SAMPLE0EXAMPLE.%s.%02d.gz", start.Format("2006-01-02-15"), i+1)
		if err := writeGzip(filepath.Join(dir, "logs", start.Format("2006/01/02"), name), b.Bytes()); err != nil {
			return err
		}
	}
	var keys strings.Builder
	keys.WriteString("customer,api_key\n")
	for _, k := range gen.Keys() {
		if k.Customer != "" {
			fmt.Fprintf(&keys, "%s,%s\n", k.Customer, k.Key)
		}
	}
	return os.WriteFile(filepath.Join(dir, "keys.csv"), []byte(keys.String()), 0o644)
}

func writeGzip(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.ModTime = time.Time{}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
