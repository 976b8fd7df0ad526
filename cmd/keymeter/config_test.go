package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigProblems pins how a config file with a problem in every
// setting is reported: every problem at once, in the config file's
// names and in this order, although ingest and the formats, not the
// CLI, decide what is wrong. A mapping's problem names its members by
// the config file's names and quotes the operator's keys as written.
func TestConfigProblems(t *testing.T) {
	c := newCLI(t)
	cfg := filepath.Join(t.TempDir(), "keymeter.yaml")
	writeFile(t, cfg, `key_params: ['a=b', ok, '']
key_header: "x api"
realtime_fields: [timestamp, nope]
future_horizon: -1h
dedupe_window: 90m
billing_grace: soon
apigateway:
  template: xml
  fields:
    colour: [x]
    status: [RequestID, RequestID]
    request_id: []
    extended_request_id: []
`)
	r := c.run("usage", "--config", cfg)
	if r.code != exitUsage {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	want := []string{
		"keymeter: " + cfg + ":",
		`  billing_grace: "soon" is not a duration such as 24h or 90m`,
		`  future_horizon: "-1h" is not a positive duration such as 24h or 90m`,
		`  dedupe_window: "90m" is not a whole number of hours such as 24h or 0h`,
		`  key_params[0]: "a=b" is not a query parameter name keymeter can find (letters, digits and - . _ ~)`,
		`  key_params[2]: "" is not a query parameter name keymeter can find (letters, digits and - . _ ~)`,
		`  apigateway.template: "xml" is not auto, json or clf`,
		"  apigateway.fields.colour: unknown field (want one of request_id, extended_request_id, request_time_epoch, request_time, " +
			"http_method, path, resource_path, route_key, status, protocol, response_length, source_ip, user_agent, api_key_id, api_key, " +
			"identity, caller, user, integration_latency, response_latency, stage, api_id, domain_name)",
		"  apigateway.fields: request_id or extended_request_id must name a key",
		`  apigateway.fields: status lists key "RequestID" twice`,
		`  key_header: "x api" is not an HTTP header name`,
		`  realtime_fields: unknown real-time log field "nope" (`,
	}
	got := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(want), r.stderr)
	}
	for i := range want {
		if got[i] != want[i] && !(i == len(want)-1 && strings.HasPrefix(got[i], want[i])) {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
	}

	writeFile(t, cfg, "future_horizon: 0h\n")
	if r := c.run("usage", "--config", cfg); r.code != exitUsage || !strings.Contains(r.stderr, `future_horizon: "0h" is not a positive duration`) {
		t.Errorf("an explicit 0h: exit %d:\n%s", r.code, r.stderr)
	}
}

// TestFlagDefaults checks that the defaults the help states are those
// their owners apply.
func TestFlagDefaults(t *testing.T) {
	r := newCLI(t).run("ingest", "-h")
	for _, want := range []string{"(default cf_api_key,api_key,apikey)", "(default x-api-key)", "time of reading (default 24h)", "count once (default 24h; 0h: the same hour)"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("ingest -h lacks %q:\n%s", want, r.stdout+r.stderr)
		}
	}
}
