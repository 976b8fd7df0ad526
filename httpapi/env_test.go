package httpapi_test

import (
	"context"
	"github.com/keymeter/keymeter/alert"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/httpapi"
	"github.com/keymeter/keymeter/httpapi/apitest"
	"github.com/keymeter/keymeter/service"
	"github.com/keymeter/keymeter/store/duckdb"
)

// sampleNow is the tests' clock: October 2025 is the current period, with
// the sample's logs (1 to 30 October) in it.
var sampleNow = time.Date(2025, 10, 31, 12, 0, 0, 0, time.UTC)

// env is the API over a real DuckDB store that holds the sample data
// (testdata/sample: keys imported, logs ingested with the service, as
// the command line does), served by httptest.
type env struct {
	t       *testing.T
	svc     *service.Service
	billing *service.Billing
	srv     *httptest.Server
	handler http.Handler
	doc     *apitest.Doc
	seen    *apitest.Seen
	// admin and acme are tokens: an admin's, and acme's.
	admin, acme, globex string
	sources             []service.SourceStatus
}

// newEnv builds the store and the server.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(strings.Repeat("6b", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(ctx, filepath.Join(dir, "keymeter.duckdb"), duckdb.Options{Now: func() time.Time { return sampleNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// One store for the process, as keymeter serve keeps it; the
	// operations share it and never close it.
	open := func(ctx context.Context, access service.Access) (*service.Stores, error) {
		return &service.Stores{
			Ingest: db, Secrets: db, Usage: db, Meters: db, Coverage: db, Reconciler: db,
			Keys: db, Customers: db, Invoices: db, Rejects: db, SQL: db, Tokens: db, Alerts: db,
		}, nil
	}
	e := &env{t: t, seen: &apitest.Seen{}}
	e.svc = &service.Service{Open: open, Now: func() time.Time { return sampleNow }, Grace: 24 * time.Hour, SecretFile: filepath.Join(dir, "secret")}
	kf, err := os.Open("../testdata/sample/keys.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	keys, err := service.ReadKeyFile(kf, "keys.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ImportKeys(ctx, keys, time.Time{}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ingest(ctx, service.IngestRequest{Files: []string{"../testdata/sample/logs"}}); err != nil && keymeter.ErrorCode(err) != keymeter.EPARTIAL {
		t.Fatal(err)
	}
	yaml, err := os.ReadFile("../testdata/sample/billing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := billing.ParseConfig(yaml)
	if err != nil {
		t.Fatal(err)
	}
	e.billing = &service.Billing{Config: bc, Path: "billing.yaml"}
	for _, tok := range []struct {
		to       *string
		customer string
	}{{&e.admin, ""}, {&e.acme, "acme"}, {&e.globex, "globex"}} {
		nt, err := e.svc.CreateToken(ctx, e.billing, tok.customer)
		if err != nil {
			t.Fatal(err)
		}
		*tok.to = nt.Secret
	}
	// Two alerts in the outbox, one of each customer, as an ingest's
	// commit enqueues them.
	var msgs []alert.Message
	for _, c := range []string{"acme", "globex"} {
		msgs = append(msgs, alert.Message{Key: "key-" + c, Rule: c + "-quota", Customer: c, Meter: "requests", Period: "2025-10",
			URL: "http://127.0.0.1:1/hook", Body: []byte(`{"customer":"` + c + `"}`), CreatedAt: sampleNow.Add(-time.Hour)})
	}
	if err := db.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	e.sources = []service.SourceStatus{{Name: "s3://logs/cloudfront/", Kind: "s3", Position: "cloudfront/E1.2025-10-21-09.03.gz",
		Lines: 5000, Events: 4990, Duplicates: 2, Rejects: 8, LinesPerSecond: 120, LastCommit: sampleNow.Add(-time.Minute)}}
	h, err := httpapi.New(httpapi.Config{Service: e.svc, Billing: e.billing, Sources: func() []service.SourceStatus { return e.sources }})
	if err != nil {
		t.Fatal(err)
	}
	e.handler = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	if e.doc, err = apitest.ParseDoc(httpapi.OpenAPI); err != nil {
		t.Fatal(err)
	}
	return e
}

// client returns a client of the server with token, checking responses
// against the OpenAPI document.
func (e *env) client(token string) *apitest.Client {
	return &apitest.Client{Base: e.srv.URL, Token: token, Doc: e.doc, Seen: e.seen}
}
