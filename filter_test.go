package keymeter_test

import (
	"testing"

	"github.com/keymeter/keymeter"
)

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
		if got := keymeter.MatchPath(tt.pattern, tt.path); got != tt.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

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

func TestEventFilterMatches(t *testing.T) {
	f := exampleFilter()
	ok := keymeter.EventFields{Source: keymeter.SourceCloudFront, Path: "/v1/users", Method: "GET", Status: 200, EdgeResult: "Miss"}
	for _, tt := range []struct {
		name string
		edit func(e *keymeter.EventFields)
		want bool
	}{
		{"plain request", func(*keymeter.EventFields) {}, true},
		{"other source", func(e *keymeter.EventFields) { e.Source = keymeter.SourceCloudFrontRealtime }, false},
		{"path not included", func(e *keymeter.EventFields) { e.Path = "/v3/users" }, false},
		{"second include pattern", func(e *keymeter.EventFields) { e.Path = "/v2/x" }, true},
		{"excluded path", func(e *keymeter.EventFields) { e.Path = "/v1/health" }, false},
		{"method not included", func(e *keymeter.EventFields) { e.Method = "DELETE" }, false},
		{"method not logged fails include", func(e *keymeter.EventFields) { e.Method = "" }, false},
		{"5xx excluded", func(e *keymeter.EventFields) { e.Status = 503 }, false},
		{"429 excluded", func(e *keymeter.EventFields) { e.Status = 429 }, false},
		{"4xx counted", func(e *keymeter.EventFields) { e.Status = 404 }, true},
		{"status not logged is not excluded", func(e *keymeter.EventFields) { e.Status = -1 }, true},
		{"000 is a status", func(e *keymeter.EventFields) { e.Status = 0 }, true},
		{"edge Error excluded", func(e *keymeter.EventFields) { e.EdgeResult = "Error" }, false},
		{"edge LimitExceeded excluded", func(e *keymeter.EventFields) { e.EdgeResult = "LimitExceeded" }, false},
		{"edge result not logged is not excluded", func(e *keymeter.EventFields) { e.EdgeResult = "" }, true},
		{"edge result case matters", func(e *keymeter.EventFields) { e.EdgeResult = "error" }, true},
	} {
		e := ok
		tt.edit(&e)
		if got := f.Matches(&e); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
	// An empty filter counts every request from its source.
	all := keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceAPIGateway}}
	if !all.Matches(&keymeter.EventFields{Source: keymeter.SourceAPIGateway, Status: -1}) {
		t.Error("empty filter refused a request")
	}
	// Include status: a request without a status fails it.
	only2xx := keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceAPIGateway}, Include: keymeter.EventMatch{Status: []keymeter.StatusRange{{Min: 200, Max: 299}}}}
	if only2xx.Matches(&keymeter.EventFields{Source: keymeter.SourceAPIGateway, Status: -1}) {
		t.Error("include 2xx accepted a request without a status")
	}
}

func TestEventFilterSources(t *testing.T) {
	all := keymeter.EventFilter{}
	for _, src := range keymeter.Sources() {
		if !all.Matches(&keymeter.EventFields{Source: src, Status: -1}) {
			t.Errorf("a filter without sources refused a request of %s", src)
		}
	}
	if all.Matches(&keymeter.EventFields{Source: keymeter.SourceEdge, Status: -1}) {
		t.Error("a filter without sources selected the edge join's request, which its logs count already")
	}
	edge := keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceEdge, keymeter.SourceAPIGateway},
		Include: keymeter.EventMatch{KeySource: []keymeter.Source{keymeter.SourceCloudFrontRealtime}}}
	for _, tt := range []struct {
		e    keymeter.EventFields
		want bool
	}{
		{keymeter.EventFields{Source: keymeter.SourceEdge, KeySource: keymeter.SourceCloudFrontRealtime}, true},
		{keymeter.EventFields{Source: keymeter.SourceEdge, KeySource: keymeter.SourceCloudFront}, false},
		{keymeter.EventFields{Source: keymeter.SourceEdge}, false},
		{keymeter.EventFields{Source: keymeter.SourceAPIGateway}, false}, // no key source: fails the include
		{keymeter.EventFields{Source: keymeter.SourceCloudFrontRealtime, KeySource: keymeter.SourceCloudFrontRealtime}, false},
	} {
		if got := edge.Matches(&tt.e); got != tt.want {
			t.Errorf("%+v: Matches = %v, want %v", tt.e, got, tt.want)
		}
	}
	notRT := keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceEdge}, Exclude: keymeter.EventMatch{KeySource: []keymeter.Source{keymeter.SourceCloudFrontRealtime}}}
	if !notRT.Matches(&keymeter.EventFields{Source: keymeter.SourceEdge}) || notRT.Matches(&keymeter.EventFields{Source: keymeter.SourceEdge, KeySource: keymeter.SourceCloudFrontRealtime}) {
		t.Error("exclude key_source")
	}
}

func TestMeasureOf(t *testing.T) {
	e := keymeter.EventFields{BytesSent: 10, BytesReceived: -1}
	if keymeter.MeasureRequests.Of(&e) != 1 || keymeter.MeasureBytesSent.Of(&e) != 10 || keymeter.MeasureBytesReceived.Of(&e) != 0 {
		t.Error("Measure.Of")
	}
}
