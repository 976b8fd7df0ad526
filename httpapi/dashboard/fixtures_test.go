package dashboard

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

// The fixtures are a made-up October 2025, seen on the 20th: three
// customers with five keys, 19 days of usage, September's invoices
// finalized. Every figure is derived from keyRequests and keyBytes, so
// that the pages' totals, breakdowns and series agree as a server's
// would, and the tests can compute what each page must show.

var (
	fixtureNow  = time.Date(2025, 10, 20, 9, 30, 0, 0, time.UTC)
	fixtureAsOf = fixtureNow.Add(-90 * time.Second)
	october     = Range{From: day(2025, 10, 1), To: day(2025, 11, 1)}
	fixtureDays = daysOf(day(2025, 10, 1), 19)

	fixtureCustomers = []string{"acme", "globex", "initech"}
	// fixtureKeys are each customer's keys, by made-up key names (never
	// shown: only their fingerprints are).
	fixtureKeys = map[string][]string{
		"acme":    {"km_live_acme_prod_7Qm2", "km_live_acme_staging_x9Fe"},
		"globex":  {"km_live_globex_3Ha8"},
		"initech": {"km_live_initech_a_P0wz", "km_live_initech_b_Lk4t"},
	}
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func daysOf(from time.Time, n int) []time.Time {
	ds := make([]time.Time, n)
	for i := range ds {
		ds[i] = from.AddDate(0, 0, i)
	}
	return ds
}

func i128(v int64) keymeter.Int128 { return keymeter.NewInt128(v) }

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// fixtureKey returns the fingerprint of a made-up key, as keymeter would
// show it: 32 hex digits and the last 4 characters.
func fixtureKey(key string) keymeter.KeyFingerprint {
	sum := sha256.Sum256([]byte("fixture secret:" + key))
	return keymeter.KeyFingerprint{ID: binary.BigEndian.Uint64(sum[:8]), Fingerprint: hex.EncodeToString(sum[:16]), Hint: key[len(key)-4:]}
}

// keyRequests is a key's requests on day d of fixtureDays: a level per
// key, less at weekends, a little growth and some noise.
func keyRequests(key string, d int) int64 {
	h := hash64(key)
	n := 150 + int64(h%400) + int64(d)*4 + int64((h>>16+uint64(d)*2654435761)%70)
	if wd := fixtureDays[d].Weekday(); wd == time.Saturday || wd == time.Sunday {
		n /= 2
	}
	return n
}

// keyBytes is a key's bytes sent on day d.
func keyBytes(key string, d int) int64 {
	return keyRequests(key, d) * (18_000 + int64(hash64(key)%9_000))
}

// keyBytesReceived is a key's bytes received on day d.
func keyBytesReceived(key string, d int) int64 { return keyRequests(key, d) * 410 }

func unattributedRequests(d int) int64 { return 40 + int64(d%7)*6 }

func keyTotals(key string) Totals {
	var t Totals
	for d := range fixtureDays {
		t.Requests = t.Requests.Add64(keyRequests(key, d))
		t.BytesSent = t.BytesSent.Add64(keyBytes(key, d))
		t.BytesReceived = t.BytesReceived.Add64(keyBytesReceived(key, d))
	}
	return t
}

func customerTotals(c string) Totals {
	var t Totals
	for _, k := range fixtureKeys[c] {
		t = addTotals(t, keyTotals(k))
	}
	return t
}

func unattributedTotals() Totals {
	var t Totals
	for d := range fixtureDays {
		n := unattributedRequests(d)
		t.Requests = t.Requests.Add64(n)
		t.BytesSent = t.BytesSent.Add64(n * 1_200)
		t.BytesReceived = t.BytesReceived.Add64(n * 350)
	}
	return t
}

func addTotals(a, b Totals) Totals {
	return Totals{a.Requests.Add(b.Requests), a.BytesSent.Add(b.BytesSent), a.BytesReceived.Add(b.BytesReceived)}
}

// dayRequests is every request of day d, attributed or not.
func dayRequests(d int) int64 {
	n := unattributedRequests(d)
	for _, c := range fixtureCustomers {
		for _, k := range fixtureKeys[c] {
			n += keyRequests(k, d)
		}
	}
	return n
}

// split divides t by shares (percentages, summing to at most 100); the
// rest goes to the last group, or to Rest when rest is set.
func split(t Totals, names []string, shares []int64, rest int64) Breakdown {
	var b Breakdown
	left := t
	part := func(v keymeter.Int128, pct int64) keymeter.Int128 {
		n, _ := v.Int64()
		return i128(n * pct / 100)
	}
	for i, name := range names {
		g := GroupUsage{Group: keymeter.GroupValue{Value: name}}
		if i == len(names)-1 && rest == 0 {
			g.Totals = left
		} else {
			g.Totals = Totals{part(t.Requests, shares[i]), part(t.BytesSent, shares[i]), part(t.BytesReceived, shares[i])}
		}
		left = Totals{left.Requests.Sub(g.Requests), left.BytesSent.Sub(g.BytesSent), left.BytesReceived.Sub(g.BytesReceived)}
		b.Rows = append(b.Rows, g)
	}
	if rest > 0 {
		b.Rest, b.RestGroups = left, rest
	}
	return b
}

var (
	fixturePaths       = []string{"/v1/items", "/v1/orders", "/v1/search", "/v1/users/{id}"}
	fixturePathShares  = []int64{45, 25, 15, 10}
	fixtureResults     = []string{"Miss", "Hit", "RefreshHit", "Error", "LimitExceeded"}
	fixtureResultShare = []int64{58, 30, 5, 4, 3}
)

// cacheHits is the part of a day's requests answered from the cache.
func cacheHits(n int64) int64 { return n*30/100 + n*5/100 }

// sortedBreakdown sorts rows by requests, largest first.
func sortedBreakdown(b Breakdown) Breakdown {
	slices.SortStableFunc(b.Rows, func(x, y GroupUsage) int { return y.Requests.Cmp(x.Requests) })
	return b
}

// fixtureOverview is the admin's overview of October so far.
func fixtureOverview(v Viewer) *Overview {
	p := &Overview{Frame: Frame{Viewer: v, AsOf: fixtureAsOf}, Period: october, Source: "cloudfront"}
	p.Requests.Days, p.Bytes.Days = fixtureDays, fixtureDays
	for _, c := range fixtureCustomers {
		req := SeriesLine{Label: c, Values: make([]keymeter.Int128, len(fixtureDays))}
		byt := SeriesLine{Label: c, Values: make([]keymeter.Int128, len(fixtureDays))}
		for d := range fixtureDays {
			for _, k := range fixtureKeys[c] {
				req.Values[d] = req.Values[d].Add64(keyRequests(k, d))
				byt.Values[d] = byt.Values[d].Add64(keyBytes(k, d))
			}
		}
		p.Requests.Lines = append(p.Requests.Lines, req)
		p.Bytes.Lines = append(p.Bytes.Lines, byt)
		t := customerTotals(c)
		p.Totals = addTotals(p.Totals, t)
		p.ByCustomer.Rows = append(p.ByCustomer.Rows, GroupUsage{Group: keymeter.GroupValue{Value: c}, Totals: t})
		for _, k := range fixtureKeys[c] {
			p.ByKey = append(p.ByKey, KeyUsage{Key: fixtureKey(k), Customer: c, Totals: keyTotals(k)})
		}
	}
	un := SeriesLine{Label: "(unattributed)", Values: make([]keymeter.Int128, len(fixtureDays))}
	for d := range fixtureDays {
		un.Values[d] = i128(unattributedRequests(d))
	}
	p.Requests.Lines = append(p.Requests.Lines, un)
	p.Unattributed = unattributedTotals()
	p.Totals = addTotals(p.Totals, p.Unattributed)
	p.ByCustomer = sortedBreakdown(p.ByCustomer)
	p.ByCustomer.Rows = append(p.ByCustomer.Rows, GroupUsage{Group: keymeter.GroupValue{Null: true}, Totals: p.Unattributed})
	slices.SortStableFunc(p.ByKey, func(x, y KeyUsage) int { return y.Requests.Cmp(x.Requests) })
	p.ByPath = split(p.Totals, fixturePaths, fixturePathShares, 12)
	p.ByEdgeResult = split(p.Totals, fixtureResults, fixtureResultShare, 0)
	for d, t := range fixtureDays {
		n := dayRequests(d)
		p.Cache = append(p.Cache, CacheDay{Day: t, Requests: i128(n), Hits: i128(cacheHits(n))})
		eo := EdgeOriginDay{Day: t, EdgeRequests: n, EdgeHits: cacheHits(n), EdgeErrors: n * 2 / 100}
		eo.OriginRequests = eo.ToOrigin()
		if d == 8 {
			eo.OriginRequests -= 3 // three origin lines missing
		}
		p.EdgeOrigin = append(p.EdgeOrigin, eo)
	}
	return p
}

// billingConfig is testdata/billing.yaml.
func billingConfig(t testing.TB) *billing.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "billing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := billing.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fixtureInvoice builds a customer's invoice for a month from totals.
func fixtureInvoice(t testing.TB, customer, month string, status invoice.Status, number string, tot Totals) *invoice.Document {
	t.Helper()
	cfg := billingConfig(t)
	a, ok := cfg.Customer(customer)
	if !ok {
		t.Fatalf("no customer %s in testdata/billing.yaml", customer)
	}
	plan, _ := cfg.Plan(a.Plan)
	period, err := billing.PeriodFor(a, month)
	if err != nil {
		t.Fatal(err)
	}
	in := invoice.Input{
		Status: status, Number: number, Customer: customer, Plan: plan, Period: period,
		Cutoff: fixtureAsOf.Add(-10 * time.Minute),
		Usage: map[string]invoice.Usage{
			"api_requests": {Events: tot.Requests, RawQuantity: tot.Requests},
			"egress":       {Events: tot.Requests, RawQuantity: tot.BytesSent},
		},
	}
	if status == invoice.Final {
		in.Cutoff = period.End.Add(30 * time.Hour)
		in.FinalizedAt = period.End.Add(50 * time.Hour)
	}
	d, err := invoice.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fixtureFinal are the finalized invoices, newest first, by customer.
func fixtureFinal(t testing.TB, customer string) []*invoice.Document {
	switch customer {
	case "acme":
		return []*invoice.Document{
			fixtureInvoice(t, "acme", "2025-09", invoice.Final, "KM-000003", Totals{i128(9_870), i128(301_112_554), i128(4_046_700)}),
			fixtureInvoice(t, "acme", "2025-08", invoice.Final, "KM-000001", Totals{i128(7_412), i128(220_871_003), i128(3_038_920)}),
		}
	case "globex":
		return []*invoice.Document{
			fixtureInvoice(t, "globex", "2025-09", invoice.Final, "KM-000002", Totals{i128(5_021), i128(99_120_551), i128(2_058_610)}),
		}
	}
	return nil
}

// fixtureDraft is a customer's October draft, with its projection.
func fixtureDraft(t testing.TB, customer string) *DraftInvoice {
	tot := customerTotals(customer)
	scale := func(v keymeter.Int128) keymeter.Int128 {
		n, _ := v.Int64()
		return i128(n * 31 / int64(len(fixtureDays)))
	}
	proj := Totals{scale(tot.Requests), scale(tot.BytesSent), scale(tot.BytesReceived)}
	return &DraftInvoice{
		Document:  fixtureInvoice(t, customer, "2025-10", invoice.Draft, "", tot),
		Projected: fixtureInvoice(t, customer, "2025-10", invoice.Draft, "", proj),
		Basis:     "the usage of the 19 days so far × 31/19, rated on the customer's plan",
	}
}

// fixtureCustomerPage is a customer's page.
func fixtureCustomerPage(t testing.TB, v Viewer, c string) *CustomerPage {
	p := &CustomerPage{Frame: Frame{Viewer: v, AsOf: fixtureAsOf}, Customer: c, Period: october, Totals: customerTotals(c)}
	cfg := billingConfig(t)
	if a, ok := cfg.Customer(c); ok {
		p.Plan = a.Plan
	}
	p.Requests.Days, p.Bytes.Days = fixtureDays, fixtureDays
	for i, k := range fixtureKeys[c] {
		fp := fixtureKey(k)
		req := SeriesLine{Label: "key …" + fp.Hint, Values: make([]keymeter.Int128, len(fixtureDays))}
		byt := SeriesLine{Label: "key …" + fp.Hint, Values: make([]keymeter.Int128, len(fixtureDays))}
		for d := range fixtureDays {
			req.Values[d] = i128(keyRequests(k, d))
			byt.Values[d] = i128(keyBytes(k, d))
		}
		p.Requests.Lines = append(p.Requests.Lines, req)
		p.Bytes.Lines = append(p.Bytes.Lines, byt)
		ck := CustomerKey{Key: fp, Totals: keyTotals(k), LastSeen: fixtureAsOf.Add(-time.Duration(i+1) * 17 * time.Second)}
		if i == 1 {
			ck.From = day(2025, 8, 14)
		}
		p.Keys = append(p.Keys, ck)
	}
	p.ByPath = split(p.Totals, fixturePaths, fixturePathShares, 5)
	p.ByEdgeResult = split(p.Totals, fixtureResults, fixtureResultShare, 0)
	if p.Plan != "" {
		p.Draft = fixtureDraft(t, c)
	}
	for _, d := range fixtureFinal(t, c) {
		p.Invoices = append(p.Invoices, SummaryOf(d))
	}
	return p
}

// fixtureInvoicesPage lists a customer's invoices, or everyone's.
func fixtureInvoicesPage(t testing.TB, v Viewer, customer string) *InvoicesPage {
	p := &InvoicesPage{Frame: Frame{Viewer: v, AsOf: fixtureAsOf}, Customer: customer}
	cs := fixtureCustomers
	if customer != "" {
		cs = []string{customer}
	}
	for _, c := range cs {
		p.Invoices = append(p.Invoices, SummaryOf(fixtureDraft(t, c).Document))
	}
	for _, c := range cs {
		for _, d := range fixtureFinal(t, c) {
			p.Invoices = append(p.Invoices, SummaryOf(d))
		}
	}
	return p
}

// fixtureDocument returns a customer's invoice of a month, or nil.
func fixtureDocument(t testing.TB, customer, month string) *invoice.Document {
	if !slices.Contains(fixtureCustomers, customer) {
		return nil
	}
	if month == "2025-10" {
		return fixtureDraft(t, customer).Document
	}
	for _, d := range fixtureFinal(t, customer) {
		if d.Period.Month == month {
			return d
		}
	}
	return nil
}

func fixtureIngestion(v Viewer) *IngestionPage {
	return &IngestionPage{Frame: Frame{Viewer: v, AsOf: fixtureAsOf}, Sources: []SourceStatus{
		{
			Name: "s3://example-logs/cloudfront/E2EXAMPLE", Format: "cloudfront", State: SourceRunning,
			Positions:   []Position{{At: "cloudfront/E2EXAMPLE.2025-10-20-09.a1b2c3d4.gz"}},
			Lag:         4*time.Minute + 12*time.Second,
			NewestEvent: fixtureAsOf.Add(-64 * time.Minute), LastCommit: fixtureAsOf.Add(-50 * time.Second),
			Lines: 1_204_331, Events: 1_204_102, Duplicates: 221, Rejects: 8,
			LineRate:  Rate{Count: 41_250, Window: time.Minute},
			EventRate: Rate{Count: 41_243, Window: time.Minute},
		},
		{
			Name: "kinesis://cf-realtime", Format: "cloudfront-realtime", State: SourceRunning,
			Positions: []Position{
				{Part: "shardId-000000000000", At: "49666716197061357389751170868210642185623031110770360322", Lag: 1200 * time.Millisecond},
				{Part: "shardId-000000000001", At: "49666716197083658134949701491352177903895679472276176914", Lag: 800 * time.Millisecond},
			},
			Lag:         1200 * time.Millisecond,
			NewestEvent: fixtureAsOf.Add(-2 * time.Second), LastCommit: fixtureAsOf.Add(-time.Second),
			Lines: 88_120, Events: 88_120,
			LineRate:  Rate{Count: 731, Window: time.Minute},
			EventRate: Rate{Count: 731, Window: time.Minute},
		},
		{
			Name: "/var/log/apigateway", Format: "", State: SourceFailing,
			Positions:   []Position{{At: "/var/log/apigateway/2025-10-19.log"}},
			Lag:         9*time.Hour + 30*time.Minute,
			NewestEvent: day(2025, 10, 20),
			Lines:       40_012, Events: 40_010, Rejects: 2,
			LineRate:  Rate{Count: 0, Window: time.Minute},
			EventRate: Rate{Count: 0, Window: time.Minute},
			LastError: "open /var/log/apigateway/2025-10-20.log: permission denied", LastErrorAt: fixtureAsOf.Add(-30 * time.Second),
		},
	}}
}

func fixtureRejects(v Viewer) *RejectsPage {
	return &RejectsPage{Frame: Frame{Viewer: v, AsOf: fixtureAsOf}, Total: 10, Next: PathRejects + "?after=3", Rejects: []keymeter.Reject{
		{Source: keymeter.SourceCloudFront, Object: "s3://example-logs/cloudfront/E2EXAMPLE.2025-10-20-09.a1b2c3d4.gz", Line: 1_812,
			Field: "sc-bytes", Reason: `"12x" is not a number`, Text: "2025-10-20\t09:12:01\tIAD89-C1\t12x\t203.0.113.9\tGET\td111111abcdef8.cloudfront.net\t/v1/items\t200",
			TextLen: 96, At: fixtureAsOf.Add(-4 * time.Minute)},
		{Source: keymeter.SourceAPIGateway, Object: "/var/log/apigateway/2025-10-19.log", Line: 77,
			Reason: "unexpected end of JSON input", Text: `{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"203.0.113.7","httpMethod":"GET"`,
			TextLen: 20_480, At: fixtureAsOf.Add(-9 * time.Hour)},
	}}
}

func fixtureCoverage(v Viewer) *CoveragePage {
	p := &CoveragePage{Frame: Frame{Viewer: v, AsOf: fixtureAsOf}, Period: october, ThresholdBasisPoints: 9500}
	for _, dist := range []string{"E2EXAMPLE", "E3OTHER"} {
		for d := 0; d < 5; d++ {
			n := dayRequests(d)
			if dist == "E3OTHER" {
				n /= 3
			}
			with := n * 97 / 100
			if dist == "E3OTHER" && d == 3 {
				with = n * 80 / 100
			}
			p.Days = append(p.Days, CoverageDay{Distribution: dist, Day: fixtureDays[d], StandardRequests: n, WithRealtime: with,
				RealtimeOnly: int64(d * 3), KeysCut: int64(d + 2), KeysRecovered: int64(d / 2)})
		}
	}
	p.Watermarks = []Watermark{
		{Source: keymeter.SourceCloudFront, Distribution: "E2EXAMPLE", CompleteUntil: day(2025, 10, 20).Add(3 * time.Hour),
			Rule:        "the hours covered by delivered objects, less a settling delay of 6h",
			Provisional: []Range{{From: day(2025, 10, 20).Add(3 * time.Hour), To: day(2025, 11, 1)}}},
		{Source: keymeter.SourceCloudFrontRealtime, Distribution: "E2EXAMPLE", CompleteUntil: fixtureAsOf.Add(-5 * time.Minute),
			Rule: "the oldest shard checkpoint, less 5m"},
	}
	return p
}
