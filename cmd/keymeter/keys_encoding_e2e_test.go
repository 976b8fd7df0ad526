package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/loggen"
)

// encodedKeyCase is one request (or rejected line) that carries API keys
// in some encoding: the key it must be attributed to, if any, and the
// keys it carries that must be found and hidden.
type encodedKeyCase struct {
	id     string // the request ID
	want   string // the name of the key the request is attributed to; "" for none
	origin string // for API Gateway requests: the identity attributed to
}

// TestKeysInEveryEncoding ingests, through the real CLI, CloudFront
// standard and real-time logs and API Gateway access logs whose lines
// carry API keys in every encoding keymeter decodes: a query percent-encoded
// inside the path, once and twice; pairs whose '=' and '&' are encoded
// twice inside another parameter; a key parameter named in another letter
// case or with an encoded name; keys in the referer, the cookie, other
// headers, the user agent, x-forwarded-for and API Gateway's path; and
// rejected lines and reject reasons that hold them. It checks that each
// request is attributed to the key that is its own, by the documented
// precedence, and that no raw key is printed by usage, keys list, rejects
// or any view, nor stored anywhere in the data directory.
func TestKeysInEveryEncoding(t *testing.T) {
	keys := map[string]string{}
	var all []loggen.Key
	key := func(name, customer string) string {
		if k, ok := keys[name]; ok {
			return k
		}
		k := fmt.Sprintf("km_%s%02dQx", name, len(keys))
		keys[name] = k
		all = append(all, loggen.Key{Customer: customer, Key: k})
		return k
	}
	// A key whose characters the client must encode.
	keys["special"] = "km_Sp+ec/ial==09Qx"
	all = append(all, loggen.Key{Customer: "initech", Key: keys["special"]})

	dir := t.TempDir()
	var cases []encodedKeyCase

	// CloudFront standard logs.
	std := func(id string, fields map[string]string) string {
		vals := map[string]string{
			"date": "2025-10-05", "time": "10:00:00", "x-edge-location": "IAD89-C1", "sc-bytes": "100",
			"c-ip": "192.0.2.1", "cs-method": "GET", "cs(Host)": "d111111abcdef8.cloudfront.net", "cs-uri-stem": "/v1/items",
			"sc-status": "200", "cs(User-Agent)": "curl/8.0", "x-edge-result-type": "Miss", "x-edge-request-id": id,
			"x-host-header": "api.example.com", "cs-protocol": "https", "cs-bytes": "50", "time-taken": "0.010",
			"ssl-protocol": "TLSv1.3", "ssl-cipher": "TLS_AES_128_GCM_SHA256", "x-edge-response-result-type": "Miss",
			"cs-protocol-version": "HTTP/2.0", "c-port": "443", "time-to-first-byte": "0.005",
			"x-edge-detailed-result-type": "Miss", "sc-content-type": "application/json", "sc-content-len": "10",
		}
		for k, v := range fields {
			vals[k] = v
		}
		cols := make([]string, len(loggen.StandardFields))
		for i, f := range loggen.StandardFields {
			cols[i] = vals[f]
			if cols[i] == "" {
				cols[i] = "-"
			}
		}
		return strings.Join(cols, "\t") + "\n"
	}
	var stdLog strings.Builder
	stdLog.WriteString(loggen.Header(loggen.StandardFields))
	addStd := func(id, want string, fields map[string]string) {
		stdLog.WriteString(std(id, fields))
		cases = append(cases, encodedKeyCase{id: id, want: want})
	}
	// A query percent-encoded inside the path, as such a line shows it
	// (once) and as CloudFront logs a client's own encoding (twice).
	addStd("S-path-once", "", map[string]string{"cs-uri-stem": "/v1/items%3Fcf_api_key%3D" + key("PathOnce", "acme")})
	addStd("S-path-twice", "", map[string]string{"cs-uri-stem": "/v1/items%253Fcf_api_key%253D" + key("PathTwice", "acme")})
	addStd("S-path-special", "", map[string]string{"cs-uri-stem": "/v1/x%3Fapikey%3D" + loggen.ClientEscape(keys["special"])})
	// A key parameter in another letter case is the request's key ...
	addStd("S-upper", "Upper", map[string]string{"cs-uri-query": "CF_API_KEY=" + key("Upper", "acme") + "&page=2"})
	// ... after every parameter named exactly as configured.
	addStd("S-case-precedence", "CaseWinner", map[string]string{"cs-uri-query": "Api_Key=" + key("CaseLoser", "initech") + "&apikey=" + key("CaseWinner", "globex")})
	addStd("S-encoded-name", "EncName", map[string]string{"cs-uri-query": "cf%5Fapi%5FKEY=" + key("EncName", "globex")})
	// A pair encoded twice inside another parameter (a URL to go back to)
	// is found and hidden, but is not this request's key.
	addStd("S-nested", "Plain", map[string]string{"cs-uri-query": "cf_api_key=" + key("Plain", "acme") +
		"&next=%252Fv1%253Fapi_key%253D" + key("Nested", "initech") + "%2526page%253D2"})
	addStd("S-nested-only", "", map[string]string{"cs-uri-query": "next=%252Fv1%253FCF_API_KEY%253D" + key("NestedOnly", "globex")})
	addStd("S-referer", "", map[string]string{"cs(Referer)": "https://app.example/login%3Fnext%3D%252Fp%253Fapi_key%253D" + key("Referer", "acme")})
	addStd("S-cookie", "", map[string]string{"cs(Cookie)": "session=abc;%20prefs=cf_api_key%253D" + key("Cookie", "acme")})
	addStd("S-user-agent", "", map[string]string{"cs(User-Agent)": "MyApp/1.0%20(apikey=" + key("UserAgent", "acme") + ")",
		"x-forwarded-for": "api_key%3D" + key("ForwardedFor", "acme")})
	// Rejected lines: a key in a number's place (quoted by the reason) and
	// in an encoded query of the path; a record cut short.
	stdLog.WriteString(std("S-reject-number", map[string]string{"sc-bytes": "cf_api_key=" + key("Reason", "acme"),
		"cs-uri-stem": "/v1/items%3Fapi_key%3D" + key("RejectPath", "acme")}))
	cut := strings.Split(std("S-reject-cut", map[string]string{"cs-uri-stem": "/v1/items%253FApiKey%253D" + key("RejectCut", "acme")}), "\t")
	stdLog.WriteString(strings.Join(cut[:20], "\t") + "\n")
	writeFile(t, filepath.Join(dir, "standard", "E2EXAMPLE.2025-10-05-10.a.log"), stdLog.String())

	// CloudFront real-time logs, the query inside cs-uri-stem.
	rtFieldList := []string{"timestamp", "c-ip", "sc-status", "sc-bytes", "cs-method", "cs-uri-stem", "cs-bytes",
		"x-edge-request-id", "time-taken", "cs-user-agent", "cs-referer", "cs-cookie", "x-forwarded-for",
		"cs-headers", "cs-header-names", "cs-headers-count"}
	rt := func(id, stem, ua, headers, names string) string {
		n := strings.Count(names, "%0A")
		return strings.Join([]string{"1759658400.123", "192.0.2.1", "200", "100", "GET", stem, "50", id, "0.010", ua,
			"-", "-", "-", headers, names, fmt.Sprint(n)}, "\t") + "\n"
	}
	var rtLog strings.Builder
	addRT := func(id, want, stem, ua, headers, names string) {
		rtLog.WriteString(rt(id, stem, ua, headers, names))
		cases = append(cases, encodedKeyCase{id: id, want: want})
	}
	// The key header comes first, whatever the query holds.
	addRT("R-header", "RTHeader", "/v1/rt?CF_API_KEY="+key("RTQueryLoser", "acme"), "curl/8.0",
		"host:api.example.com%0AX-Api-Key:"+key("RTHeader", "initech")+"%0A", "host%0AX-Api-Key%0A")
	addRT("R-upper", "RTUpper", "/v1/rt?ApiKey="+key("RTUpper", "globex"), "curl/8.0", "host:a%0A", "host%0A")
	addRT("R-headers", "", "/v1/rt", "curl/8.0",
		"host:a%0Areferer:https://app.example/p%253Fcf_api_key%253D"+key("RTRefHeader", "acme")+
			"%0Acookie:prefs=API_KEY%253D"+key("RTCookieHeader", "acme")+"%2526x%253D1%0A", "host%0Areferer%0Acookie%0A")
	addRT("R-path", "", "/v1/rt%253Fapi_key%253D"+key("RTPath", "acme"), "MyApp/1.0%20(cf_api_key%3D"+key("RTUserAgent", "acme")+")",
		"host:a%0A", "host%0A")
	rtLog.WriteString(strings.Replace(rt("R-reject", "/v1/rt%3Fapikey%3D"+key("RTReject", "acme"), "curl/8.0", "host:a%0A", "host%0A"),
		"1759658400.123", "yesterday", 1))
	writeFile(t, filepath.Join(dir, "realtime", "firehose-2025-10-05-10"), rtLog.String())

	// API Gateway access logs.
	var agLog strings.Builder
	addAG := func(id, origin, path, ua, keyID string) {
		fmt.Fprintf(&agLog, `{"requestId":"%s","requestTimeEpoch":"1759658400123","httpMethod":"GET","path":"%s","status":"200","responseLength":"10","userAgent":"%s","apiKeyId":"%s"}`+"\n",
			id, path, ua, keyID)
		cases = append(cases, encodedKeyCase{id: id, origin: origin})
	}
	addAG("A-path", "apikeyid:kid-1", "/prod/items%3Fcf_api_key%3D"+key("AGPath", "acme"), "curl/8.0", "kid-1")
	addAG("A-path-twice", "", "/prod/items%253FCF_API_KEY%253D"+key("AGPathTwice", "acme"), "sdk/1 (apikey="+key("AGUserAgent", "acme")+")", "-")
	fmt.Fprintf(&agLog, `{"requestId":"A-reject","requestTimeEpoch":"1759658400123","path":"/prod/x%%3Fapi_key%%3D%s","userAgent":"say "hi""}`+"\n", key("AGReject", "acme"))
	writeFile(t, filepath.Join(dir, "apigateway", "access.log"), agLog.String())

	// Import the keys, ingest, and ask.
	c := newCLI(t)
	var printed strings.Builder
	var csv strings.Builder
	csv.WriteString("customer,api_key,api_key_id\n")
	for _, k := range all {
		fmt.Fprintf(&csv, "%s,%s,\n", k.Customer, k.Key)
	}
	csv.WriteString("acme,,kid-1\n")
	keysFile := filepath.Join(t.TempDir(), "keys.csv")
	writeFile(t, keysFile, csv.String())
	printed.WriteString(c.ok("keys", "import", keysFile))
	for _, args := range [][]string{
		{"ingest", filepath.Join(dir, "standard")},
		{"ingest", "--format", "cloudfront-realtime", "--fields", strings.Join(rtFieldList, ","), filepath.Join(dir, "realtime")},
		{"ingest", "--format", "apigateway", filepath.Join(dir, "apigateway")},
	} {
		r := c.run(args...)
		printed.WriteString(r.stdout + r.stderr)
		if r.code != 0 {
			t.Fatalf("keymeter %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}

	// (a) Each request is attributed to its own key, and to nothing else.
	fpr := keymeter.NewFingerprinter(readSecret(t, c.data))
	fp := func(name string) string { return fpr.Fingerprint([]byte(keys[name])).Fingerprint }
	out := c.ok("sql", "--format", "json", "SELECT request_id, api_key, unattributed_reason FROM events ORDER BY request_id")
	printed.WriteString(out)
	var rows []struct {
		RequestID string  `json:"request_id"`
		APIKey    *string `json:"api_key"`
		Reason    *string `json:"unattributed_reason"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("events: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.RequestID] = "<none>"
		if r.APIKey != nil {
			got[r.RequestID] = *r.APIKey
		}
	}
	if len(got) != len(cases) {
		t.Errorf("%d events stored, want %d: %v", len(got), len(cases), got)
	}
	for _, tc := range cases {
		want := "<none>"
		switch {
		case tc.want != "":
			want = fp(tc.want)
		case tc.origin != "":
			want = tc.origin
		}
		if got[tc.id] != want {
			t.Errorf("%s: attributed to %s, want %s (%s)", tc.id, got[tc.id], want, tc.want)
		}
	}

	// (b) The keys are found and fingerprinted where they stand ...
	var paths strings.Builder
	for _, source := range []string{"", "cloudfront", "cloudfront-realtime", "apigateway"} {
		args := []string{"usage", "--from", "2025-10-01", "--to", "2025-11-01", "--by", "path"}
		if source != "" {
			args = append(args, "--source", source)
		}
		paths.WriteString(c.ok(args...))
	}
	printed.WriteString(paths.String())
	for _, want := range []string{
		"/v1/items?cf_api_key=" + fp("PathOnce"), "/v1/items%3Fcf_api_key%3D" + fp("PathTwice"), "/v1/x?apikey=" + fp("special"),
		"/v1/rt%3Fapi_key%3D" + fp("RTPath"), "/prod/items?cf_api_key=" + fp("AGPath"),
	} {
		if !strings.Contains(paths.String(), want) {
			t.Errorf("usage --by path does not show %q:\n%s", want, paths.String())
		}
	}
	// ... and shown by no command, kept in no table or file.
	for _, args := range [][]string{
		{"usage", "--from", "2025-10-01", "--to", "2025-11-01", "--by", "api_key,customer"},
		{"keys", "list"}, {"keys", "list", "--unassigned"},
		{"rejects", "--limit", "0"}, {"rejects", "--limit", "0", "--format", "json"},
	} {
		printed.WriteString(c.ok(args...))
	}
	rejects := c.ok("rejects", "--limit", "0", "--format", "json")
	var rj []map[string]any
	if err := json.Unmarshal([]byte(rejects), &rj); err != nil || len(rj) != 4 {
		t.Errorf("%d rejects (%v), want 4:\n%s", len(rj), err, rejects)
	}
	var views []struct {
		Name string `json:"table_name"`
	}
	out = c.ok("sql", "--format", "json", "SELECT table_name FROM information_schema.tables WHERE table_type = 'VIEW' ORDER BY 1")
	if err := json.Unmarshal([]byte(out), &views); err != nil || len(views) < 4 {
		t.Fatalf("views: %v\n%s", err, out)
	}
	for _, v := range views {
		printed.WriteString(c.ok("sql", "--format", "csv", fmt.Sprintf("SELECT * FROM %q", v.Name)))
	}
	checkNoRawKeys(t, c, &dataset{keys: all}, printed.String())
	// Reject reasons quote at most 40 bytes of a value, so look for the
	// start of every key too, in what was printed and in the files.
	var files []byte
	filepath.Walk(c.data, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(p) != "secret" {
			b, _ := os.ReadFile(p)
			files = append(files, b...)
		}
		return nil
	})
	for name, k := range keys {
		if strings.Contains(printed.String(), k[:12]) || strings.Contains(string(files), k[:12]) {
			t.Errorf("the start of key %s (%s) is printed or stored", name, k[:12])
		}
	}
}
