package dashboard

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
)

// Hostile text, as clients can put it in paths, user agents and headers,
// and as an operator can name things.
const (
	hostilePath     = `/"><script>alert(1)</script>`
	hostileBytes    = "/v1/\xff\xfe<b>bold</b>"        // invalid UTF-8, shown as \xFF\xFE
	hostileShown    = `/v1/\xFF\xFE<b>bold</b>`        // what a person must read
	hostileResult   = `<img src=x onerror=alert(2)>`   // an edge result
	hostileCustomer = `o'brien"><svg onload=alert(3)>` // a customer name
	hostileAgent    = "Mozilla/5.0 </script><script>alert(4)</script>"
	hostileSource   = `s3://bucket/<script>alert(6)</script>`
	hostileError    = `"'><iframe src=javascript:alert(7)></iframe>`
	hostileNext     = `javascript:alert(8)`
)

// hostileStrings are every hostile string a page shows, as it must show
// it.
var hostileStrings = []string{hostilePath, hostileShown, hostileResult, hostileCustomer, hostileAgent, hostileSource, hostileError}

func hostileOverview(v Viewer) *Overview {
	p := fixtureOverview(v)
	p.ByPath.Rows[0].Group.Value = hostilePath
	p.ByPath.Rows[1].Group.Value = hostileBytes
	p.ByEdgeResult.Rows[0].Group.Value = hostileResult
	p.ByCustomer.Rows[0].Group.Value = hostileCustomer
	p.Requests.Lines[0].Label = hostileCustomer
	p.Requests.Lines[1].Label = hostileAgent
	p.Bytes.Lines[0].Label = hostileBytes
	p.ByKey[0].Customer = hostileCustomer
	p.Source = hostileAgent
	return p
}

func hostileIngestion(v Viewer) *IngestionPage {
	p := fixtureIngestion(v)
	p.Sources[0].Name = hostileSource
	p.Sources[0].Positions[0].At = hostileBytes
	p.Sources[2].LastError = hostileError
	return p
}

func hostileRejects(v Viewer) *RejectsPage {
	p := fixtureRejects(v)
	p.Rejects[0].Text = "GET " + hostilePath + " " + hostileAgent + " " + hostileBytes
	p.Rejects[0].Reason = hostileError
	p.Rejects[1].Object = hostileSource
	p.Next = hostileNext
	return p
}

// ownScripts counts the page's legitimate <script> elements: the two
// script files of a page with charts and one JSON block per chart.
func ownScripts(body string) int {
	n := strings.Count(body, `<script type="application/json"`)
	if strings.Contains(body, `<figure class="chart"`) {
		n += 2
	}
	return n
}

// TestEscaping renders pages full of hostile text and checks that none
// of it becomes markup, that invalid UTF-8 shows as \xHH, and that the
// chart data cannot end its script element.
func TestEscaping(t *testing.T) {
	pages := map[string]Page{
		"overview":  hostileOverview(admin),
		"ingestion": hostileIngestion(admin),
		"rejects":   hostileRejects(admin),
	}
	for name, p := range pages {
		rec, err := render(t, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body := rec.Body.String()
		if !utf8.ValidString(body) {
			t.Errorf("%s: not valid UTF-8", name)
		}
		if n, want := strings.Count(body, "<script"), ownScripts(body); n != want {
			t.Errorf("%s: %d <script> elements, want %d", name, n, want)
		}
		for _, bad := range []string{"<script>alert", "<img src=x", "<svg onload", "<iframe", `href="javascript:`, `src="javascript:`, "<b>bold", "\ufffd"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: the page contains %q", name, bad)
			}
		}
		// Each page shows hostileBytes somewhere, as keymeter writes it.
		if !strings.Contains(body, `/v1/\xFF\xFE&lt;b&gt;bold&lt;/b&gt;`) {
			t.Errorf("%s: invalid UTF-8 not shown as \\xFF\\xFE", name)
		}
		// Inside the JSON of a chart, nothing may close the element.
		for _, block := range strings.Split(body, `<script type="application/json"`)[1:] {
			data, _, _ := strings.Cut(block, "</script>")
			if strings.Contains(data, "<") {
				t.Errorf("%s: a chart's data holds a '<': %s", name, data)
			}
		}
	}
	// The label a chart draws is the text as keymeter shows it: \xHH,
	// not U+FFFD.
	rec, _ := render(t, hostileOverview(admin))
	if !strings.Contains(rec.Body.String(), `"label":"/v1/\\xFF\\xFE\u003cb\u003ebold\u003c/b\u003e"`) {
		t.Errorf("the bytes chart's label is not the escaped text")
	}
	// A next page link that is a script is neutralised.
	rec, _ = render(t, hostileRejects(admin))
	if strings.Contains(rec.Body.String(), hostileNext) || !strings.Contains(rec.Body.String(), `href="#ZgotmplZ"`) {
		t.Errorf("the javascript: link was not neutralised")
	}
}

// TestSignInNextIsLocal: the sign-in form only ever returns to a path on
// this server.
func TestSignInNextIsLocal(t *testing.T) {
	for next, want := range map[string]bool{
		"/customers/acme":   true,
		"//evil.example/x":  false,
		"/\\evil.example":   false,
		"https://evil.test": false,
		"javascript:x":      false,
		"/ok\r\nSet-Cookie": false,
	} {
		rec, _ := render(t, &SignInPage{CSRF: "c", Next: next})
		got := strings.Contains(rec.Body.String(), `name="next"`)
		if got != want {
			t.Errorf("next %q: a next field %v, want %v", next, got, want)
		}
	}
}

// TestNumbersAreExact prints totals beyond 2^64 and money with fractions
// of a cent exactly.
func TestNumbersAreExact(t *testing.T) {
	big, err := keymeter.ParseInt128("123456789012345678901234567")
	if err != nil {
		t.Fatal(err)
	}
	if got := count(big); got != "123,456,789,012,345,678,901,234,567" {
		t.Errorf("count = %s", got)
	}
	if got := humanBytes(big); got != "123.5 YB" {
		t.Errorf("humanBytes = %s", got)
	}
	for v, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1049: "1.0 kB", 1050: "1.1 kB", 181_601_877: "181.6 MB"} {
		if got := humanBytes(i128(v)); got != want {
			t.Errorf("humanBytes(%d) = %s, want %s", v, got, want)
		}
	}
	if got := ratio(i128(1), i128(3)); got != "33.33%" {
		t.Errorf("ratio(1, 3) = %s", got)
	}
	if got := ratio(i128(2), i128(3)); got != "66.67%" {
		t.Errorf("ratio(2, 3) = %s", got)
	}
	if got := (Rate{Count: 41_250, Window: time.Minute}).PerSecond(); got != "687.5" {
		t.Errorf("rate = %s", got)
	}
	if got := (Rate{Count: 1, Window: 3 * time.Second}).PerSecond(); got != "0.3" {
		t.Errorf("rate = %s", got)
	}
	p := &Overview{Frame: Frame{Viewer: admin}, Totals: Totals{Requests: big, BytesSent: big}}
	rec, err := render(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.Body.String(), `data-value="123456789012345678901234567">123,456,789,012,345,678,901,234,567<`) {
		t.Errorf("the overview does not show the exact total")
	}
}
