package service_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/service"
	"github.com/keymeter/keymeter/store/duckdb"
)

// env is a service over a real DuckDB store in a temporary directory,
// with a clock the test sets.
type env struct {
	t   *testing.T
	dir string
	now time.Time
	svc *service.Service
	// wrap, when set, changes the stores of every opening (to make one
	// ability fail).
	wrap func(*service.Stores)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), now: time.Date(2025, 12, 15, 12, 0, 0, 0, time.UTC)}
	e.svc = &service.Service{
		Open:       e.open,
		Now:        func() time.Time { return e.now },
		Grace:      24 * time.Hour,
		SecretFile: filepath.Join(e.dir, "secret"),
	}
	return e
}

// open opens the DuckDB store, as cmd/keymeter/store.go does.
func (e *env) open(ctx context.Context, access service.Access) (*service.Stores, error) {
	path := filepath.Join(e.dir, "keymeter.duckdb")
	if _, err := os.Stat(path); err != nil && access != service.Write {
		return nil, keymeter.Errorf(keymeter.ENOTFOUND, "no store in %s", e.dir)
	}
	db, err := duckdb.Open(ctx, path, duckdb.Options{ReadOnly: access == service.Read, Sandbox: access == service.Query})
	if err != nil {
		return nil, err
	}
	st := &service.Stores{
		Ingest: db, Secrets: db, Usage: db, Meters: db, Queries: db, Coverage: db, Reconciler: db,
		Keys: db, Customers: db, Invoices: db, Rejects: db, SQL: db, Alerts: db, Close: db.Close,
	}
	if e.wrap != nil {
		e.wrap(st)
	}
	return st, nil
}

// data is generated CloudFront traffic with its ground truth.
type data struct {
	keys    []loggen.Key
	records []loggen.Record
}

// october generates n requests of four customers (customer-01 to -04)
// and unknown keys in October 2025.
func october(seed uint64, n int) *data {
	gen := loggen.New(loggen.Config{
		Seed: seed, KeySeed: 1, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 31 * 24 * time.Hour,
		Customers: 4, KeysPerCustomer: 2, UnknownKeys: 2, NoKeyPercent: 5, Paths: 10,
	})
	d := &data{keys: gen.Keys(), records: make([]loggen.Record, n)}
	for i := range d.records {
		gen.Next(&d.records[i])
	}
	return d
}

// requests counts the requests of each customer ("" for none) among
// records that match.
func requests(recs []loggen.Record, match func(*loggen.Record) bool) map[string]int64 {
	out := map[string]int64{}
	for i := range recs {
		r := &recs[i]
		if match != nil && !match(r) {
			continue
		}
		c := ""
		if r.Key != nil {
			c = r.Key.Customer
		}
		out[c]++
	}
	return out
}

// writeLog writes records as a gzip standard log file and returns its path.
func (e *env) writeLog(name string, recs []loggen.Record) string {
	e.t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(loggen.Header(loggen.StandardFields)))
	var line []byte
	for i := range recs {
		line = recs[i].AppendLine(line[:0], loggen.StandardFields)
		zw.Write(line)
	}
	if err := zw.Close(); err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.dir, "logs", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// importKeys imports the keys of the customers.
func (e *env) importKeys(keys []loggen.Key) {
	e.t.Helper()
	var csv strings.Builder
	csv.WriteString("customer,api_key\n")
	for _, k := range keys {
		if k.Customer != "" {
			fmt.Fprintf(&csv, "%s,%s\n", k.Customer, k.Key)
		}
	}
	f, err := service.ReadKeyFile(strings.NewReader(csv.String()), "keys.csv")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.ImportKeys(context.Background(), f, time.Time{}, false); err != nil {
		e.t.Fatal(err)
	}
}

// ingest ingests files with the default settings.
func (e *env) ingest(files ...string) *ingest.Summary {
	e.t.Helper()
	rep, err := e.svc.Ingest(context.Background(), service.IngestRequest{Files: files})
	if err != nil {
		e.t.Fatal(err)
	}
	return rep.Summary
}

// loaded is a store with a month of traffic, keys imported.
func loaded(t *testing.T, n int) (*env, *data) {
	t.Helper()
	e := newEnv(t)
	d := october(7, n)
	e.importKeys(d.keys)
	sum := e.ingest(e.writeLog("2025/10/a.gz", d.records))
	if sum.Events != int64(n) {
		t.Fatalf("ingested %d events of %d", sum.Events, n)
	}
	return e, d
}

// sampleBilling bills customer-01 and customer-02 (Stripe) on per-request
// plans from October 2025; customer-03 and -04 are on no plan.
const sampleBilling = `
currency: USD
time_zone: UTC
meters:
  requests:
    measure: requests
    source: cloudfront
plans:
  basic:
    flat_fee: "10.00"
    prices:
      requests: {model: per_unit, unit_amount: "0.01"}
  bulk:
    prices:
      requests: {model: per_unit, unit_amount: "0.001"}
customers:
  customer-01: {plan: basic, start: 2025-10-01}
  customer-02: {plan: bulk, start: 2025-10-01, stripe_customer_id: cus_TEST02}
`

func parseBilling(t *testing.T, yaml string) *service.Billing {
	t.Helper()
	c, err := billing.ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return &service.Billing{Config: c, Path: "billing.yaml"}
}

func wantCode(t *testing.T, what string, err error, code, contains string) {
	t.Helper()
	if keymeter.ErrorCode(err) != code || !strings.Contains(fmt.Sprint(err), contains) {
		t.Errorf("%s: error %v (code %q); want code %q and %q", what, err, keymeter.ErrorCode(err), code, contains)
	}
}
