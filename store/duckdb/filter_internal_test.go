package duckdb

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// exampleFilter is the api_requests meter of billing/testdata/example.yaml.
func exampleFilter() keymeter.EventFilter {
	return keymeter.EventFilter{
		Sources: []keymeter.Source{keymeter.SourceCloudFront},
		Include: keymeter.EventMatch{
			Path:   []string{"/v1/*", "/v2/*"},
			Method: []string{"GET", "POST"},
		},
		Exclude: keymeter.EventMatch{
			Status:     []keymeter.StatusRange{{Min: 500, Max: 599}, {Min: 429, Max: 429}},
			EdgeResult: []string{"Error", "LimitExceeded"},
			Path:       []string{"/v1/health"},
		},
	}
}

func TestWhereSQL(t *testing.T) {
	f := exampleFilter()
	f.Include.Path = append(f.Include.Path, "/a_b%c\\*")
	where, args := whereSQL(&f, false)
	wantWhere := `source = ?` +
		` AND (path LIKE ? ESCAPE '\' OR path LIKE ? ESCAPE '\' OR path LIKE ? ESCAPE '\')` +
		` AND (method IN (?, ?))` +
		` AND (status IS NULL OR NOT (status BETWEEN ? AND ? OR status = ?))` +
		` AND (edge_result IS NULL OR NOT (edge_result IN (?, ?)))` +
		` AND (path IS NULL OR NOT (path LIKE ? ESCAPE '\'))`
	if where != wantWhere {
		t.Errorf("where:\n got %s\nwant %s", where, wantWhere)
	}
	wantArgs := []any{"cloudfront", "/v1/%", "/v2/%", `/a\_b\%c\\%`, "GET", "POST", 500, 599, 429, "Error", "LimitExceeded", "/v1/health"}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("args:\n got %#v\nwant %#v", args, wantArgs)
	}

	one := keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceAPIGateway}}
	if w, a := whereSQL(&one, false); w != "source = ?" || !reflect.DeepEqual(a, []any{"apigateway"}) {
		t.Errorf("a filter of one source: %s %v", w, a)
	}
	var all keymeter.EventFilter
	if w, a := whereSQL(&all, false); w != "" || a != nil {
		t.Errorf("no filter: %q %v", w, a)
	}
	if w, a := whereSQL(&all, true); w != "source <> 'edge'" || a != nil {
		t.Errorf("no filter beside the edge join's rows: %q %v", w, a)
	}
	keyed := keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceEdge, keymeter.SourceAPIGateway},
		Include: keymeter.EventMatch{KeySource: []keymeter.Source{keymeter.SourceCloudFrontRealtime}}}
	if w, a := whereSQL(&keyed, true); w != "(source IN (?, ?)) AND (key_source IN (?))" || !reflect.DeepEqual(a, []any{"edge", "apigateway", "cloudfront-realtime"}) {
		t.Errorf("key source: %s %v", w, a)
	}
	if w, _ := whereSQL(&keyed, false); !strings.HasSuffix(w, " AND false") {
		t.Errorf("key source without the edge join's rows: %s", w)
	}
}

var (
	septemberCutoff = time.Date(2025, 10, 2, 6, 0, 0, 250_000_000, time.UTC)
	octoberCutoff   = time.Date(2025, 11, 2, 6, 30, 0, 123_456_000, time.UTC)
)

func TestQueryText(t *testing.T) {
	// The searches meter of billing/invoice/testdata/plans.yaml.
	searches := keymeter.MeterSpec{Name: "searches", Measure: keymeter.MeasureRequests, Filter: keymeter.EventFilter{
		Sources: []keymeter.Source{keymeter.SourceCloudFront},
		Include: keymeter.EventMatch{Path: []string{"/v1/search*", "/it's_100%_literal"}}}}
	from, to := time.Date(2025, 10, 1, 4, 0, 0, 0, time.UTC), time.Date(2025, 11, 1, 4, 0, 0, 0, time.UTC)
	text := func(q keymeter.ReproduceQuery) string {
		t.Helper()
		s, err := QueryText(q)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	q := text(keymeter.ReproduceQuery{Meter: searches, Customer: "o'brien", From: from, To: to, AsOf: octoberCutoff})
	cond := `customer = 'o''brien'` +
		` AND time >= TIMESTAMP '2025-10-01 04:00:00' AND time < TIMESTAMP '2025-11-01 04:00:00'` +
		` AND source = 'cloudfront' AND (path LIKE '/v1/search%' ESCAPE '\' OR path LIKE '/it''s\_100\%\_literal' ESCAPE '\')`
	want := `SELECT count(*) AS events, count(*) AS quantity FROM events_as_of(TIMESTAMP '2025-11-02 06:30:00.123456') WHERE ` + cond
	if q != want {
		t.Errorf("query\n got %s\nwant %s", q, want)
	}
	late := text(keymeter.ReproduceQuery{Meter: searches, Customer: "o'brien", From: from, To: to, AsOf: octoberCutoff, Since: septemberCutoff})
	want = `SELECT known.events - billed.events AS events, known.quantity - billed.quantity AS quantity FROM ` +
		`(SELECT count(*) AS events, count(*) AS quantity FROM events_as_of(TIMESTAMP '2025-11-02 06:30:00.123456') WHERE ` + cond + `) known, ` +
		`(SELECT count(*) AS events, count(*) AS quantity FROM events_as_of(TIMESTAMP '2025-10-02 06:00:00.25') WHERE ` + cond + `) billed`
	if late != want {
		t.Errorf("late query\n got %s\nwant %s", late, want)
	}
	egress := keymeter.MeterSpec{Name: "egress", Measure: keymeter.MeasureBytesSent, Filter: keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceCloudFront}}}
	if q := text(keymeter.ReproduceQuery{Meter: egress, Customer: "a", From: time.Unix(0, 0), To: time.Unix(3600, 0)}); q !=
		"SELECT count(*) AS events, coalesce(sum(bytes_sent), 0) AS quantity FROM events WHERE customer = 'a' AND time >= TIMESTAMP '1970-01-01 00:00:00' AND time < TIMESTAMP '1970-01-01 01:00:00' AND source = 'cloudfront'" {
		t.Errorf("query of what is known now: %s", q)
	}
	// A meter of the edge join counts the edge join's events.
	egress.Filter.Sources = []keymeter.Source{keymeter.SourceEdge}
	if q := text(keymeter.ReproduceQuery{Meter: egress, Customer: "a", From: time.Unix(0, 0), To: time.Unix(3600, 0), AsOf: octoberCutoff}); q !=
		"SELECT count(*) AS events, coalesce(sum(bytes_sent), 0) AS quantity FROM edge_events_as_of(TIMESTAMP '2025-11-02 06:30:00.123456') WHERE customer = 'a' AND time >= TIMESTAMP '1970-01-01 00:00:00' AND time < TIMESTAMP '1970-01-01 01:00:00' AND source = 'edge'" {
		t.Errorf("query of an edge meter: %s", q)
	}
	if _, err := QueryText(keymeter.ReproduceQuery{Meter: keymeter.MeterSpec{Name: "m", Measure: "furlongs"}}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("unknown measure: %v, want EINVALID", err)
	}
}
