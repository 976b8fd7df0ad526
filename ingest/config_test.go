package ingest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/apigateway"
	"github.com/keymeter/keymeter/ingest"
)

// TestConfigValidate checks that a Config reports every problem at once,
// each placed in its setting, so that a caller (the CLI) can say them in
// its own words, and that New refuses the same.
func TestConfigValidate(t *testing.T) {
	bad := ingest.Config{
		KeyParams:      []string{"api_key", "a=b", ""},
		KeyHeader:      "x api key",
		RealtimeFields: []string{"timestamp", "no-such-field"},
		FutureHorizon:  -time.Hour,
		APIGateway:     ingest.APIGateway{Template: "xml", Mapping: &apigateway.Mapping{}},
		Secret:         testSecret,
	}
	type problem struct {
		setting string
		index   int
		text    string
	}
	want := []problem{
		{ingest.SettingKeyParams, 1, `"a=b" is not a query parameter name`},
		{ingest.SettingKeyParams, 2, `"" is not a query parameter name`},
		{ingest.SettingKeyHeader, 0, `"x api key" is not an HTTP header name`},
		{ingest.SettingRealtimeFields, 0, "no-such-field"},
		{ingest.SettingFutureHorizon, 0, "must be positive"},
		{ingest.SettingAPIGatewayTemplate, 0, `"xml" is not auto, json or clf`},
		{ingest.SettingAPIGatewayMapping, 0, "RequestID or ExtendedRequestID must name a key"},
	}
	got := bad.Problems()
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %d", got, len(want))
	}
	for i, w := range want {
		if p := got[i]; p.Setting != w.setting || p.Index != w.index || !strings.Contains(p.Err.Error(), w.text) {
			t.Errorf("problem %d: %s[%d]: %v; want %s[%d]: ...%s...", i, p.Setting, p.Index, p.Err, w.setting, w.index, w.text)
		}
	}
	var me *apigateway.MappingError
	if !errors.As(got[6], &me) {
		t.Errorf("the mapping's problem %v does not wrap its *apigateway.MappingError", got[6])
	}

	err := bad.Validate()
	if keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Fatalf("Validate: %v, want EINVALID", err)
	}
	_, nerr := ingest.New(nil, bad)
	for _, p := range got {
		if !strings.Contains(err.Error(), p.Error()) || nerr == nil || !strings.Contains(nerr.Error(), p.Error()) {
			t.Errorf("Validate %q or New %q lacks %q", err, nerr, p)
		}
		var ce *ingest.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("Validate's error holds no *ConfigError")
		}
	}

	// Only the formats that may read the inputs are checked.
	cf := bad
	cf.Format, cf.KeyParams, cf.KeyHeader, cf.FutureHorizon = "cloudfront", nil, "", 0
	if err := cf.Validate(); err != nil {
		t.Errorf("a cloudfront run checks other formats' settings: %v", err)
	}
	var zero ingest.Config
	if err := zero.Validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}
