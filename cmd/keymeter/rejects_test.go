package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
)

type rejectJSON struct {
	File   string  `json:"file"`
	Line   int64   `json:"line"`
	Field  *string `json:"field"`
	Reason string  `json:"reason"`
	Length int64   `json:"length"`
	Text   string  `json:"text"`
}

func listRejects(t *testing.T, c *cli) []rejectJSON {
	t.Helper()
	var out []rejectJSON
	if err := json.Unmarshal([]byte(c.ok("rejects", "--limit", "0", "--format", "json")), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRejectsCapped rejects records far longer than what is kept, in
// every part of a reject (the text, the offending field's name, the
// reason): each is cut, and the record's length is kept and shown.
func TestRejectsCapped(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	long := strings.Repeat("k", 300_000)
	// An API Gateway record that breaks after a 300 KB key, and one whose
	// long value is not a number.
	agLine := `{"requestId":"r1","` + long + `":"v" "x"}` + "\n"
	writeFile(t, filepath.Join(dir, "ag", "access.log"), agLine)
	// A standard log line with a 300 KB field and a 2 MB line, each with
	// multi-byte characters around the cut.
	stdLine := "2025-10-01\t00:00:01\tIAD89-C1\tx" + strings.Repeat("é", 150_000) + "\t1.2.3.4\tGET\td.cloudfront.net\t/v1\t200\t-\tcurl\t-\t-\tMiss\treqA\tapi.example.com\thttps\t10\t0.001\n"
	huge := strings.Repeat("é", 1<<20) + "\n"
	writeFile(t, filepath.Join(dir, "cf", "E2EXAMPLE.2025-10-01-00.a1"), clientBytesFields+stdLine+huge)
	c.ok("ingest", "--format", "apigateway", filepath.Join(dir, "ag"))
	c.ok("ingest", filepath.Join(dir, "cf"))
	got := map[string]rejectJSON{}
	for _, r := range listRejects(t, c) {
		got[filepath.Base(filepath.Dir(r.File))+":"+string(rune('0'+r.Line))] = r
		if len(r.Text) > keymeter.MaxRejectText || !utf8.ValidString(r.Text) || len(r.Reason) > keymeter.MaxRejectReason ||
			r.Field != nil && len(*r.Field) > keymeter.MaxRejectField {
			t.Errorf("%s:%d: not cut to size, or cut inside a character: text %d bytes, field %v, reason %d bytes",
				r.File, r.Line, len(r.Text), r.Field != nil && len(*r.Field) > keymeter.MaxRejectField, len(r.Reason))
		}
	}
	for _, w := range []struct {
		key    string
		length int
	}{{"ag:1", len(agLine) - 1}, {"cf:3", len(stdLine) - 1}, {"cf:4", len(huge) - 1}} {
		r, ok := got[w.key]
		if !ok {
			t.Errorf("no reject %s (%d rejects)", w.key, len(got))
			continue
		}
		if r.Length != int64(w.length) {
			t.Errorf("reject %s: length %d, want %d", w.key, r.Length, w.length)
		}
	}
	if r := got["ag:1"]; r.Field == nil || !strings.HasPrefix(*r.Field, "kkkk") {
		t.Errorf("reject ag:1: field %v, want the start of the key", r.Field)
	}
	if r := got["cf:4"]; !strings.Contains(r.Reason, "line longer than") {
		t.Errorf("reject cf:4: reason %q", r.Reason)
	}
}

// TestRejectsOfCompletedFile ingests a truncated gzip file, then the
// same file completed: the reject of the cut line, and that of a bad
// line read twice, are replaced by the new read's.
func TestRejectsOfCompletedFile(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(clientBytesFields)
	for i := range 200 {
		b.WriteString("2025-10-01\t00:00:01\tIAD89-C1\t100\t1.2.3.4\tGET\td.cloudfront.net\t/v1/" + strings.Repeat("x", i%50) +
			"\t200\t-\tcurl\t-\t-\tMiss\treq" + string(rune('A'+i/26)) + string(rune('a'+i%26)) + "\tapi.example.com\thttps\t10\t0.001\n")
		if i == 10 {
			b.WriteString("2025-10-01\t00:00:01\tbad line\n")
		}
	}
	full := gzipBytes(t, b.String())
	path := filepath.Join(dir, "E2EXAMPLE.2025-10-01-00.a1.gz")
	writeFile(t, path, string(full[:len(full)*2/3]))
	if r := c.run("ingest", dir); r.code != exitPartial {
		t.Fatalf("truncated: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	before := listRejects(t, c)
	if len(before) != 2 {
		t.Fatalf("rejects of the truncated file: %+v", before)
	}
	writeFile(t, path, string(full))
	if r := c.run("ingest", "--json", dir); r.code != 0 || decodeSummary(t, r).Events == 0 {
		t.Fatalf("completed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	after := listRejects(t, c)
	if len(after) != 1 || after[0].Line != 14 || !strings.Contains(after[0].Reason, "wrong number of fields") {
		t.Errorf("rejects after the file was completed: %+v", after)
	}
	if out := c.ok("usage", "--from", "2025-10-01", "--to", "2025-10-02", "--by", "", "--format", "csv"); !strings.HasPrefix(strings.Split(out, "\n")[1], "200,") {
		t.Errorf("usage: %s", out)
	}
}
