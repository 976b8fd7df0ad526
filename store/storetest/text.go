package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
)

// textTests check that a store keeps any text it is given.
var textTests = []struct {
	name string
	fn   func(t *testing.T, s keymeter.Store)
}{
	{"TextNotUTF8", testTextNotUTF8},
	{"CustomerNameNotUTF8", testCustomerNameNotUTF8},
	{"RejectsCut", testRejectsCut},
	{"ReplaceRejects", testReplaceRejects},
}

// testTextNotUTF8 writes events whose strings (dictionary values, the
// per-row strings, a key hint, the object's name, rejects) are not valid
// UTF-8: a store keeps them all, each byte of an invalid sequence as
// \xHH (keymeter.ValidUTF8).
func testTextNotUTF8(t *testing.T, s keymeter.Store) {
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	bs := batches("/logs/\xffa.gz", ev{at: time.Hour, id: "r\xff1", path: "/v1/\xff\xfe", key: "k1", sent: 10},
		ev{at: time.Hour, id: "r2", path: "/v1/ok", method: "G\xc3T", sent: 20})
	b := bs[0]
	b.Dict = append(b.Dict, keymeter.DictEntry{Kind: keymeter.DictClient, Source: b.Source, ID: 77, Values: []string{"curl/\xff", "http://r/\xe2\x82"}})
	b.Rows[1].Client = 77
	b.Keys[0].Hint = "ab\xffc"
	res, err := w.Write(ctx, b)
	if err != nil || res.Stored != 2 {
		t.Fatalf("write: %+v, %v", res, err)
	}
	if err := w.Reject(ctx, []keymeter.Reject{{Source: keymeter.SourceCloudFront, Object: "/logs/\xffa.gz", Line: 2, Field: "f\xff",
		Reason: "bad \xff", Text: "x\xffy", At: day0}}); err != nil {
		t.Fatal(err)
	}
	if err := w.FinishObject(ctx, keymeter.ObjectRecord{Object: keymeter.Object{URI: "/logs/\xffa.gz", Digest: "sha256:x"}, Status: keymeter.ObjectComplete}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	expect(t, "usage by path", usage(t, s, keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimPath}}),
		[]string{`/v1/\xFF\xFE: 1 10 0`, "/v1/ok: 1 20 0"})
	expect(t, "usage by method", usage(t, s, keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimMethod}}),
		[]string{"GET: 1 10 0", `G\xC3T: 1 20 0`})
	rj, err := s.Rejects(ctx, keymeter.RejectFilter{Object: "/logs/\xffa.gz"})
	if err != nil || len(rj) != 1 || rj[0].Object != `/logs/\xFFa.gz` || rj[0].Field != `f\xFF` || rj[0].Reason != `bad \xFF` || rj[0].Text != `x\xFFy` {
		t.Errorf("rejects: %+v, %v", rj, err)
	}
	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Hint != `ab\xFFc` {
		t.Errorf("keys: %+v, %v", keys, err)
	}
	if q, ok := s.(keymeter.SQLQuerier); ok {
		var tab keymeter.Table
		err := q.StreamSQL(ctx, `SELECT request_id FROM events ORDER BY request_id`, &tab)
		if err != nil || len(tab.Rows) != 2 || tab.Rows[0][0] != "r2" || tab.Rows[1][0] != `r\xFF1` {
			t.Errorf("events: %+v, %v", tab, err)
		}
	}
}

// testCustomerNameNotUTF8 imports a key for a customer whose name is not
// valid UTF-8: an EINVALID error that shows the name, and nothing
// imported.
func testCustomerNameNotUTF8(t *testing.T, s keymeter.Store) {
	_, err := s.ImportKeys(ctx, []keymeter.KeyAssignment{{KeyFingerprint: testKey("k1"), Customer: "acme"}, {KeyFingerprint: testKey("k2"), Customer: "ac\xffme"}})
	var e *keymeter.Error
	if !errors.As(err, &e) || e.Code != keymeter.EINVALID || !strings.Contains(e.Message, `"ac\xffme" is not valid UTF-8`) {
		t.Errorf("import: %v, want an EINVALID error naming the customer", err)
	}
	if keys, err := s.ListKeys(ctx); err != nil || len(keys) != 0 {
		t.Errorf("keys after the refused import: %+v, %v", keys, err)
	}
	if cs, ok := s.(keymeter.CustomerStore); ok {
		err := cs.SetCustomer(ctx, keymeter.CustomerPlan{Customer: "x\xc3", Plan: "p", Start: "2025-10-01"})
		if !errors.As(err, &e) || e.Code != keymeter.EINVALID {
			t.Errorf("set customer: %v, want an EINVALID error", err)
		}
	}
}

// testRejectsCut keeps rejects far longer than a store keeps: cut at a
// character boundary, with the record's length.
func testRejectsCut(t *testing.T, s keymeter.Store) {
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	text := strings.Repeat("é", keymeter.MaxRejectText)
	err = w.Reject(ctx, []keymeter.Reject{{Source: keymeter.SourceCloudFront, Object: "/a.gz", Line: 1, Field: strings.Repeat("f", 10_000),
		Reason: strings.Repeat("r", 10_000), Text: text, TextLen: 1 << 30, At: day0}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rj, err := s.Rejects(ctx, keymeter.RejectFilter{})
	if err != nil || len(rj) != 1 {
		t.Fatalf("rejects: %d, %v", len(rj), err)
	}
	r := rj[0]
	if len(r.Text) != keymeter.MaxRejectText || !utf8.ValidString(r.Text) || len(r.Field) != keymeter.MaxRejectField ||
		len(r.Reason) != keymeter.MaxRejectReason || r.TextLen != 1<<30 {
		t.Errorf("reject: text %d bytes (valid %v), field %d, reason %d, length %d", len(r.Text), utf8.ValidString(r.Text), len(r.Field), len(r.Reason), r.TextLen)
	}
}

// testReplaceRejects reads an object again: its earlier rejects are
// replaced by the new read's, and other objects' are kept.
func testReplaceRejects(t *testing.T, s keymeter.Store) {
	reject := func(obj string, line int64) keymeter.Reject {
		return keymeter.Reject{Source: keymeter.SourceCloudFront, Object: obj, Line: line, Reason: "bad", Text: "x", At: day0}
	}
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Reject(ctx, []keymeter.Reject{reject("/a.gz", 1), reject("/a.gz", 9), reject("/b.gz", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, err = s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rr, ok := w.(keymeter.Rereader)
	if !ok {
		t.Skip("the store's writer cannot replace rejects")
	}
	if _, err := rr.Reread(ctx, keymeter.Object{URI: "/a.gz"}, false); err != nil {
		t.Fatal(err)
	}
	if err := w.Reject(ctx, []keymeter.Reject{reject("/a.gz", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// A second commit of the same read keeps what the first kept.
	if err := w.Reject(ctx, []keymeter.Reject{reject("/a.gz", 5)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rj, err := s.Rejects(ctx, keymeter.RejectFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rj {
		got = append(got, r.Object+":"+string(rune('0'+r.Line)))
	}
	expect(t, "rejects", got, []string{"/a.gz:1", "/a.gz:5", "/b.gz:1"})
}
