package billing

import (
	"reflect"
	"testing"

	"github.com/keymeter/keymeter"
)

func TestParseStatusRange(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want StatusRange
	}{
		{"5xx", StatusRange{500, 599}},
		{"4XX", StatusRange{400, 499}},
		{"1xx", StatusRange{100, 199}},
		{"404", StatusRange{404, 404}},
		{"000", StatusRange{0, 0}},
	} {
		got, err := ParseStatusRange(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseStatusRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"6xx", "0xx", "5x", "5xxx", "600", "-12", "+12", "abc", "", "40", "4040"} {
		if r, err := ParseStatusRange(in); err == nil {
			t.Errorf("ParseStatusRange(%q) = %v, want an error", in, r)
		}
	}
	if s := (StatusRange{500, 599}).String(); s != "5xx" {
		t.Errorf("String = %s", s)
	}
	if s := (StatusRange{0, 0}).String(); s != "000" {
		t.Errorf("String = %s", s)
	}
}

func TestMatchPath(t *testing.T) {
	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{"/v1/*", "/v1/users/42", true},
		{"/v1/*", "/v1/", true},
		{"/v1/*", "/v1", false},
		{"/v1/*", "/v2/users", false},
		{"*/health", "/v1/health", true},
		{"*/health", "/v1/healthz", false},
		{"/v?/x", "/v2/x", true},
		{"/v?/x", "/v10/x", false},
		{"/a*b*c", "/aXXbYYc", true},
		{"/a*b*c", "/aXXbYY", false},
		{"/exact", "/exact", true},
		{"/exact", "/exactly", false},
		{"*", "/anything", true},
		{"/100%", "/100%", true}, // % and _ are not special
		{"/a_b", "/aXb", false},
	} {
		if got := MatchPath(tt.pattern, tt.path); got != tt.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

// exampleFilter is the api_requests meter of testdata/example.yaml.
func exampleFilter() MeterFilter {
	return MeterFilter{
		Source: keymeter.SourceCloudFront,
		Include: Match{
			Path:   []string{"/v1/*", "/v2/*"},
			Method: []string{"GET", "POST"},
		},
		Exclude: Match{
			Status:     []StatusRange{{500, 599}, {429, 429}},
			EdgeResult: []string{"Error", "LimitExceeded"},
			Path:       []string{"/v1/health"},
		},
	}
}

func TestMeterFilterMatches(t *testing.T) {
	f := exampleFilter()
	ok := EventFields{Source: keymeter.SourceCloudFront, Path: "/v1/users", Method: "GET", Status: 200, EdgeResult: "Miss"}
	for _, tt := range []struct {
		name string
		edit func(e *EventFields)
		want bool
	}{
		{"plain request", func(*EventFields) {}, true},
		{"other source", func(e *EventFields) { e.Source = keymeter.SourceCloudFrontRealtime }, false},
		{"path not included", func(e *EventFields) { e.Path = "/v3/users" }, false},
		{"second include pattern", func(e *EventFields) { e.Path = "/v2/x" }, true},
		{"excluded path", func(e *EventFields) { e.Path = "/v1/health" }, false},
		{"method not included", func(e *EventFields) { e.Method = "DELETE" }, false},
		{"method not logged fails include", func(e *EventFields) { e.Method = "" }, false},
		{"5xx excluded", func(e *EventFields) { e.Status = 503 }, false},
		{"429 excluded", func(e *EventFields) { e.Status = 429 }, false},
		{"4xx counted", func(e *EventFields) { e.Status = 404 }, true},
		{"status not logged is not excluded", func(e *EventFields) { e.Status = -1 }, true},
		{"000 is a status", func(e *EventFields) { e.Status = 0 }, true},
		{"edge Error excluded", func(e *EventFields) { e.EdgeResult = "Error" }, false},
		{"edge LimitExceeded excluded", func(e *EventFields) { e.EdgeResult = "LimitExceeded" }, false},
		{"edge result not logged is not excluded", func(e *EventFields) { e.EdgeResult = "" }, true},
		{"edge result case matters", func(e *EventFields) { e.EdgeResult = "error" }, true},
	} {
		e := ok
		tt.edit(&e)
		if got := f.Matches(&e); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
	// An empty filter counts every request from its source.
	all := MeterFilter{Source: keymeter.SourceAPIGateway}
	if !all.Matches(&EventFields{Source: keymeter.SourceAPIGateway, Status: -1}) {
		t.Error("empty filter refused a request")
	}
	// Include status: a request without a status fails it.
	only2xx := MeterFilter{Source: keymeter.SourceAPIGateway, Include: Match{Status: []StatusRange{{200, 299}}}}
	if only2xx.Matches(&EventFields{Source: keymeter.SourceAPIGateway, Status: -1}) {
		t.Error("include 2xx accepted a request without a status")
	}
}

func TestSQLWhere(t *testing.T) {
	f := exampleFilter()
	f.Include.Path = append(f.Include.Path, "/a_b%c\\*")
	where, args := f.SQLWhere()
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

	empty := MeterFilter{Source: keymeter.SourceAPIGateway}
	if w, a := empty.SQLWhere(); w != "source = ?" || !reflect.DeepEqual(a, []any{"apigateway"}) {
		t.Errorf("empty filter: %s %v", w, a)
	}
}

func TestMeterQuantity(t *testing.T) {
	for _, tt := range []struct {
		unit Unit
		raw  int64
		want string
	}{
		{Unit{"request", 1}, 1234567, "1234567"},
		{Unit{"GB", 1_000_000_000}, 1_500_000_000, "1.5"},
		{Unit{"GB", 1 << 30}, 1_500_000_000, "1.3969838619232177734375"},
		{Unit{"GB", 1 << 30}, 1, "0.000000000931322574615478515625"},
		{Unit{"GiB", 1 << 30}, 3 << 30, "3"},
		{Unit{"MB", 1_000_000}, 0, "0"},
		{Unit{"TB", 1_000_000_000_000}, 123, "0.000000000123"},
	} {
		m := Meter{Unit: tt.unit}
		got := m.Quantity(i128(tt.raw))
		if got.String() != tt.want {
			t.Errorf("%d bytes in %s of %d = %s, want %s", tt.raw, tt.unit.Name, tt.unit.Bytes, got, tt.want)
		}
		// Exact: converting back gives the raw count.
		if back := got.Mul(DecimalFromInt(tt.unit.Bytes)); !back.Equal(DecimalFromInt(tt.raw)) {
			t.Errorf("%s × %d = %s, want %d", got, tt.unit.Bytes, back, tt.raw)
		}
	}
}
