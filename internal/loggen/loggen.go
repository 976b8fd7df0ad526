// Package loggen generates realistic CloudFront log records with known
// ground truth, for end-to-end tests and benchmarks: standard log lines
// (Next, AppendLine) and real-time log records (NextRealtime,
// AppendRealtime), whose API key may travel in a request header that
// CloudFront's 800-byte cut of cs-headers can drop. Generation is
// deterministic for a seed.
package loggen

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Key is a generated API key and its owner.
type Key struct {
	Customer string // "" for keys nobody owns
	Key      string // the raw key, as the application knows it
}

// Config says what to generate.
type Config struct {
	Seed uint64 // seeds the records
	// KeySeed seeds the keys, so that generators for different files can
	// share them; 0 means Seed.
	KeySeed uint64
	Start   time.Time     // the first instant records may have
	Span    time.Duration // records fall in [Start, Start+Span)
	// Customers, each owning KeysPerCustomer keys; UnknownKeys more keys
	// are used in traffic but owned by nobody.
	Customers       int
	KeysPerCustomer int
	UnknownKeys     int
	// CustomerNames name the customers; the default is customer-01, ...
	CustomerNames []string
	// NoKeyPercent of the requests carry no key.
	NoKeyPercent int
	// Paths is the number of distinct request paths.
	Paths int

	// Real-time records (NextRealtime) only:
	//
	// HeaderKeyPercent of the requests with a key send it in the
	// x-api-key header (in a random position and letter case) instead of
	// the query string.
	HeaderKeyPercent int
	// TruncatedPercent of those send it after so many other headers that
	// CloudFront's 800-byte cut of cs-headers drops it: cs-header-names
	// still lists it, and the request cannot be attributed.
	TruncatedPercent int
	// BigHeadersPercent of the other requests carry large headers too, so
	// that cs-headers is cut without losing a key.
	BigHeadersPercent int
	// BothPercent of the requests that send the key in the header send it
	// in the query string too, where the standard log shows it.
	BothPercent int

	// Distributions are the distributions' domains the requests go to
	// (cs(Host) in standard logs, x-host-header in real-time logs);
	// default d111111abcdef8.cloudfront.net.
	Distributions []string
	// MissingPercent of the real-time records of requests made by
	// NextEdge are never delivered, as when the log's sampling rate is
	// below 100.
	MissingPercent int
}

// Record is one request and its ground truth.
type Record struct {
	Time         time.Time // second resolution, UTC
	Edge         string
	BytesSent    int64
	IP           string
	Method       string
	Path         string
	Status       int
	UA           string
	Query        string // as CloudFront logs it (encoded), "-" for none
	Result       string
	RequestID    string
	BytesRecv    int64
	TimeTakenMs  int
	TTFBMs       int
	Port         int
	ContentLen   int64
	DetailedType string
	Key          *Key // nil when the request carries no key, or lost it (Truncated)
	// Sent is the key the request sent, in the header, the query string
	// or both; QueryKey says it is in the query string.
	Sent     *Key
	QueryKey bool
	// Distribution is the domain of the distribution the request went to.
	Distribution string

	// Real-time records only (NextRealtime):
	Millis  int             // milliseconds after Time
	Country string          // c-country
	Headers []RequestHeader // the request's headers as sent, in order
	// Logged is how many of Headers fit in cs-headers: CloudFront drops
	// the first header that would take it past 800 bytes, and the rest.
	Logged int
	// KeyHeader is true when the request sent its key in the x-api-key
	// header; Truncated when that header was dropped from cs-headers (Key
	// is then nil unless the query string has the key too: the truth is
	// that the real-time record is unattributed).
	KeyHeader bool
	Truncated bool
	// Realtime says, for requests made by NextEdge, that the real-time
	// record is delivered.
	Realtime bool
}

// RequestHeader is one request header, its value as CloudFront logs it
// (percent-encoded).
type RequestHeader struct{ Name, Value string }

// Gen generates records.
type Gen struct {
	cfg    Config
	rng    *rand.Rand
	keys   []Key
	paths  []string
	ips    []string
	params []string
}

// New returns a generator.
func New(cfg Config) *Gen {
	if cfg.Paths <= 0 {
		cfg.Paths = 50
	}
	if cfg.KeySeed == 0 {
		cfg.KeySeed = cfg.Seed
	}
	g := &Gen{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.KeySeed, cfg.KeySeed^0x6b6579))}
	for c := range cfg.Customers {
		for k := range cfg.KeysPerCustomer {
			name := fmt.Sprintf("customer-%02d", c+1)
			if c < len(cfg.CustomerNames) {
				name = cfg.CustomerNames[c]
			}
			g.keys = append(g.keys, Key{Customer: name, Key: g.newKey(c*31 + k)})
		}
	}
	for k := range cfg.UnknownKeys {
		g.keys = append(g.keys, Key{Key: g.newKey(1000 + k)})
	}
	resources := []string{"items", "orders", "users", "search", "reports", "invoices", "files", "events"}
	for i := range cfg.Paths {
		r := resources[i%len(resources)]
		switch i / len(resources) % 3 {
		case 0:
			g.paths = append(g.paths, "/v1/"+r)
		case 1:
			g.paths = append(g.paths, fmt.Sprintf("/v1/%s/%d", r, 1000+i))
		default:
			g.paths = append(g.paths, fmt.Sprintf("/v2/%s/%d/details", r, 1000+i))
		}
	}
	for i := range 2000 {
		g.ips = append(g.ips, fmt.Sprintf("%d.%d.%d.%d", 11+i%200, (i*7)%256, (i*13)%256, 1+i%250))
	}
	g.params = []string{"cf_api_key", "api_key", "apikey"}
	g.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))
	return g
}

// newKey makes a key; every third one contains '+', '/' and '=', which
// must survive encoding and decoding.
func (g *Gen) newKey(n int) string {
	b := make([]byte, 18+n%9)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	if n%3 == 0 {
		s = base64.StdEncoding.EncodeToString(b) // + / and = padding
		if !strings.ContainsAny(s, "+/") {
			s = s[:4] + "+/" + s[4:]
		}
		if !strings.HasSuffix(s, "=") {
			s += "="
		}
	}
	return "km_" + s
}

// Keys returns every key the generator uses, owned ones first.
func (g *Gen) Keys() []Key { return g.keys }

var (
	edges   = []string{"IAD89-C1", "IAD55-P2", "DFW56-P1", "SEA19-C1", "SFO53-P9", "LHR50-C1", "FRA56-P5", "NRT57-C1", "SIN2-C1", "GRU3-C2", "HKG54-C1", "LAX3-C4"}
	methods = []string{"GET", "GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "OPTIONS"}
	uas     = []string{
		"Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/120.0.0.0%20Safari/537.36",
		"python-requests/2.31.0", "curl/8.4.0", "Go-http-client/2.0", "okhttp/4.12.0",
		"Mozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2010_15_7)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20Version/17.1%20Safari/605.1.15",
		"axios/1.6.2", "PostmanRuntime/7.36.0",
	}
	results = []struct {
		result, detailed string
		status           int
	}{
		{"Miss", "Miss", 200}, {"Miss", "Miss", 200}, {"Miss", "Miss", 200}, {"Hit", "Hit", 200},
		{"Hit", "Hit", 200}, {"RefreshHit", "RefreshHit", 200}, {"Miss", "Miss", 201}, {"Miss", "Miss", 404},
		{"Miss", "Miss", 400}, {"Error", "OriginCommError", 502}, {"LimitExceeded", "LimitExceeded", 429},
		{"Error", "ClientCommError", 0},
	}
)

// Next fills r with the next record.
func (g *Gen) Next(r *Record) {
	g.next(r, false)
}

func (g *Gen) next(r *Record, realtime bool) {
	rng := g.rng
	r.Time = g.cfg.Start.Add(time.Duration(rng.Int64N(int64(g.cfg.Span/time.Second))) * time.Second).UTC()
	r.Edge = edges[rng.IntN(len(edges))]
	r.IP = g.ips[rng.IntN(len(g.ips))]
	r.Method = methods[rng.IntN(len(methods))]
	r.Path = g.paths[rng.IntN(len(g.paths))]
	res := results[rng.IntN(len(results))]
	r.Result, r.DetailedType, r.Status = res.result, res.detailed, res.status
	r.UA = uas[rng.IntN(len(uas))]
	r.BytesSent = 250 + rng.Int64N(60000)
	r.BytesRecv = 180 + rng.Int64N(2500)
	r.TimeTakenMs = 1 + rng.IntN(2500)
	r.TTFBMs = rng.IntN(r.TimeTakenMs + 1)
	r.Port = 1024 + rng.IntN(64000)
	r.ContentLen = r.BytesSent - 200
	var id [40]byte
	for i := 0; i < len(id); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			id[i+j] = byte(v >> (8 * j))
		}
	}
	r.RequestID = base64.URLEncoding.EncodeToString(id[:])
	r.Key = nil
	if rng.IntN(100) >= g.cfg.NoKeyPercent && len(g.keys) > 0 {
		r.Key = &g.keys[rng.IntN(len(g.keys))]
	}
	r.Sent = r.Key
	r.Distribution = defaultDistribution
	if len(g.cfg.Distributions) > 0 {
		r.Distribution = g.cfg.Distributions[0]
	}
	if len(g.cfg.Distributions) > 1 {
		r.Distribution = g.cfg.Distributions[rng.IntN(len(g.cfg.Distributions))]
	}
	if !realtime {
		r.QueryKey = r.Key != nil
		r.Query = g.query(r.Key)
		return
	}
	r.KeyHeader = r.Key != nil && rng.IntN(100) < g.cfg.HeaderKeyPercent
	r.Truncated = r.KeyHeader && rng.IntN(100) < g.cfg.TruncatedPercent
	both := r.KeyHeader && g.cfg.BothPercent > 0 && rng.IntN(100) < g.cfg.BothPercent
	r.QueryKey = r.Key != nil && (!r.KeyHeader || both)
	if r.QueryKey {
		r.Query = g.query(r.Key)
	} else {
		r.Query = g.query(nil)
	}
	g.headers(r)
	if r.Truncated && !r.QueryKey {
		r.Key = nil
	}
	r.Millis = rng.IntN(1000)
	r.Country = countries[rng.IntN(len(countries))]
}

// NextRealtime fills r with the next real-time record: a request as
// Next makes them, with millisecond timestamps and request headers.
func (g *Gen) NextRealtime(r *Record) {
	g.next(r, true)
}

var (
	countries = []string{"US", "US", "DE", "FR", "GB", "JP", "BR", "IN"}
	// keyHeaderNames are ways clients spell the key header; each client
	// sticks to one.
	keyHeaderNames = []string{"x-api-key", "X-Api-Key", "X-API-KEY", "X-Api-key", "x-API-key"}
	h1Names        = map[string]string{
		"host": "Host", "user-agent": "User-Agent", "accept": "Accept", "accept-encoding": "Accept-Encoding",
		"x-request-id": "X-Request-Id", "cookie": "Cookie", "sec-ch-ua": "Sec-CH-UA", "x-trace": "X-Trace",
	}
)

// headers makes r's request headers. Each client (user agent) sends its
// headers in an order of its own, with names in the case of its HTTP
// version (lowercase for HTTP/2, title case for HTTP/1.1) and its own
// spelling and place for the key header, as real clients do; which
// optional headers a request carries varies. A request whose key must be
// cut off sends a cookie big enough to take cs-headers past 800 bytes,
// and the key header after it.
func (g *Gen) headers(r *Record) {
	rng := g.rng
	client := slices.Index(uas, r.UA)
	h2 := client%2 == 0
	order := clientOrders[client%len(clientOrders)]
	present := map[string]string{
		"host":            "api.example.com",
		"user-agent":      r.UA,
		"accept":          "application/json",
		"accept-encoding": "gzip,%20deflate,%20br",
		"x-request-id":    fmt.Sprintf("%016x", rng.Uint64()),
	}
	if rng.IntN(3) == 0 {
		present["x-trace"] = fmt.Sprintf("Root=1-%08x-%024x", rng.Uint32(), rng.Uint64())
	}
	switch {
	case r.Truncated || !r.KeyHeader && rng.IntN(100) < g.cfg.BigHeadersPercent:
		// A cookie that takes cs-headers past 800 bytes on its own.
		present["cookie"] = g.cookie(820 + rng.IntN(400))
	case rng.IntN(4) == 0:
		present["cookie"] = g.cookie(20 + rng.IntN(200))
	}
	if r.KeyHeader {
		present["key"] = CloudFrontEscape(r.Key.Key)
	}
	// A new slice each time: callers keep records.
	r.Headers = make([]RequestHeader, 0, len(present))
	for _, n := range order {
		v, ok := present[n]
		if !ok || n == "key" && r.Truncated {
			continue
		}
		name := n
		switch {
		case n == "key":
			name = keyHeaderNames[client%len(keyHeaderNames)]
		case !h2:
			name = h1Names[n]
		}
		r.Headers = append(r.Headers, RequestHeader{name, v})
	}
	if r.Truncated { // the key after the big cookie
		r.Headers = append(r.Headers, RequestHeader{keyHeaderNames[client%len(keyHeaderNames)], present["key"]})
	}
	r.Logged = len(r.Headers)
	size := 0
	for i, h := range r.Headers {
		size += len(h.Name) + 1 + len(h.Value) + 3
		if size > 800 {
			r.Logged = i
			break
		}
	}
}

// clientOrders are the orders in which clients send their headers
// ("key" is the key header); client i uses clientOrders[i % 8].
var clientOrders = [][]string{
	{"host", "user-agent", "accept", "key", "accept-encoding", "x-request-id", "x-trace", "cookie"},
	{"host", "key", "accept", "accept-encoding", "user-agent", "cookie", "x-trace", "x-request-id"},
	{"host", "accept-encoding", "user-agent", "x-request-id", "cookie", "accept", "x-trace", "key"},
	{"host", "x-trace", "cookie", "user-agent", "key", "accept", "x-request-id", "accept-encoding"},
	{"host", "user-agent", "x-request-id", "accept", "accept-encoding", "cookie", "key", "x-trace"},
	{"host", "accept", "user-agent", "accept-encoding", "x-trace", "key", "cookie", "x-request-id"},
	{"host", "cookie", "key", "x-request-id", "x-trace", "user-agent", "accept-encoding", "accept"},
	{"host", "x-request-id", "accept-encoding", "x-trace", "accept", "user-agent", "key", "cookie"},
}

// cookie returns a session cookie of about n bytes.
func (g *Gen) cookie(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := []byte("session=")
	for len(b) < n {
		b = append(b, alphabet[g.rng.IntN(len(alphabet))])
	}
	return string(b)
}

// query builds the logged query string: the key under one of the accepted
// parameter names, sometimes encoded by the client, among other
// parameters, as CloudFront logs it.
func (g *Gen) query(k *Key) string {
	rng := g.rng
	var parts []string
	if rng.IntN(2) == 0 {
		parts = append(parts, "page="+strconv.Itoa(1+rng.IntN(20)))
	}
	if k != nil {
		value := k.Key
		if rng.IntN(2) == 0 { // the client percent-encodes the key
			value = ClientEscape(value)
		}
		parts = append(parts, g.params[rng.IntN(len(g.params))]+"="+value)
	}
	if rng.IntN(3) == 0 {
		parts = append(parts, "q="+ClientEscape("name:\"blue widget\""))
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	if len(parts) == 0 {
		return "-"
	}
	return CloudFrontEscape(strings.Join(parts, "&"))
}

// ClientEscape percent-encodes a query value the way an HTTP client does:
// everything but unreserved characters.
func ClientEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// CloudFrontEscape encodes a value the way CloudFront writes it to a
// standard log: control characters, non-ASCII bytes, space and
// < > " # % { } | \ ^ ~ [ ] ` ' become %XX.
func CloudFrontEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 32 || c >= 127 || strings.IndexByte("<>\"#%{}|\\^~[]`'", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
