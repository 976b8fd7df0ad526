package service_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/service"
)

var oct = [2]time.Time{time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)}

// TestUsage checks usage against the generated truth, the default-source
// rule (each request once: the edge join of the CloudFront logs) and each
// row's completeness: a day is provisional when it reaches past its
// source's watermark (the newest request less the log's settling delay).
func TestUsage(t *testing.T) {
	e, d := loaded(t, 3000)
	ctx := context.Background()
	rep, err := e.svc.Usage(ctx, service.UsageRequest{Query: keymeter.UsageQuery{From: oct[0], To: oct[1],
		By: []keymeter.Dimension{keymeter.DimCustomer}}, CoverageThreshold: 9900})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Query.Sources, []keymeter.Source{keymeter.SourceEdge}) || !slices.Equal(rep.Query.By, []keymeter.Dimension{keymeter.DimCustomer}) {
		t.Errorf("query answered: sources %v, by %v; want the edge join alone, by customer", rep.Query.Sources, rep.Query.By)
	}
	truth := requests(d.records, nil)
	got := map[string]int64{}
	for _, r := range rep.Rows {
		n, _ := r.Requests.Int64()
		got[r.Group[0].Value] = n
		if !r.Watermark.Known || !r.Provisional {
			t.Errorf("row %v: watermark %+v, provisional %v; want a known watermark, and the month provisional (its last day is within a day of the newest request)",
				r.Group, r.Watermark, r.Provisional)
		}
	}
	if len(got) != len(truth) {
		t.Errorf("usage by customer: %v; want %v", got, truth)
	}
	for c, n := range truth {
		if got[c] != n {
			t.Errorf("customer %q: %d requests; want %d", c, got[c], n)
		}
	}
	newest := slices.MaxFunc(d.records, func(a, b loggen.Record) int { return a.Time.Compare(b.Time) }).Time
	if w := rep.Watermarks[keymeter.SourceEdge]; !w.Until.Equal(newest.Add(-keymeter.DefaultSettleStandard)) {
		t.Errorf("the edge's watermark is %s; want the newest request %s less the standard log's settling delay", w.Until, newest)
	}

	// By day: the days before the watermark are final.
	rep, err = e.svc.Usage(ctx, service.UsageRequest{Query: keymeter.UsageQuery{From: oct[0], To: oct[1], By: []keymeter.Dimension{keymeter.DimDay}}})
	if err != nil {
		t.Fatal(err)
	}
	until := rep.Watermarks[keymeter.SourceEdge].Until
	for _, r := range rep.Rows {
		day, err := time.Parse("2006-01-02", r.Group[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		if want := day.AddDate(0, 0, 1).After(until); r.Provisional != want {
			t.Errorf("day %s: provisional %v; want %v (complete until %s)", r.Group[0].Value, r.Provisional, want, until)
		}
	}

	// Two sources are never added up: the rows are split by source.
	rep, err = e.svc.Usage(ctx, service.UsageRequest{Query: keymeter.UsageQuery{From: oct[0], To: oct[1],
		Sources: []keymeter.Source{keymeter.SourceCloudFront, keymeter.SourceEdge}}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Query.By, []keymeter.Dimension{keymeter.DimSource}) || len(rep.Rows) != 2 {
		t.Errorf("two sources: by %v, %d rows; want one row per source", rep.Query.By, len(rep.Rows))
	}
}

// TestNoStore checks that the operations that read report a missing
// store as ENOTFOUND, and that listing customers then lists the billing
// config's.
func TestNoStore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.svc.Usage(ctx, service.UsageRequest{Query: keymeter.UsageQuery{From: oct[0], To: oct[1]}})
	wantCode(t, "usage without a store", err, keymeter.ENOTFOUND, "no store")
	list, err := e.svc.ListCustomers(ctx, parseBilling(t, sampleBilling))
	if err != nil || len(list) != 2 || list[0].Source != "config" {
		t.Errorf("customers without a store: %+v, %v; want the billing config's two", list, err)
	}
}

// TestSecret checks the fingerprint secret: created on first use, for
// its owner only; the same on later uses; a store made with another
// secret refused; a damaged file refused.
func TestSecret(t *testing.T) {
	e, d := loaded(t, 200)
	ctx := context.Background()
	st, err := os.Stat(e.svc.SecretFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, %v; want it created, mode 0600", st, err)
	}
	stores, err := e.open(ctx, service.Read)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := e.svc.Secret(ctx, stores.Secrets)
	stores.Close()
	if err != nil || len(secret) != 32 {
		t.Fatalf("secret: %d bytes, %v", len(secret), err)
	}
	// The checker is given a value derived from the secret, never the
	// secret.
	rec := &recordingChecker{}
	again, err := e.svc.Secret(ctx, rec)
	if err != nil || string(again) != string(secret) || rec.check != service.SecretCheck(secret) || len(rec.check) != 16 {
		t.Errorf("secret again: %v; checked %q; want the same secret, checked by its 16-digit check", err, rec.check)
	}
	if want := errors.New("refused"); true {
		rec.err = keymeter.Errorf(keymeter.ECONFLICT, "%w", want)
		if _, err := e.svc.Secret(ctx, rec); !errors.Is(err, want) {
			t.Errorf("a refused check: %v", err)
		}
	}

	other := *e.svc
	other.SecretFile = e.svc.SecretFile + ".other"
	_, err = other.Ingest(ctx, service.IngestRequest{Files: []string{e.writeLog("b.gz", d.records[:10])}})
	wantCode(t, "ingest with another secret", err, keymeter.ECONFLICT, "does not match")

	if err := os.WriteFile(other.SecretFile, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = other.Secret(ctx, rec)
	wantCode(t, "a damaged secret", err, keymeter.EINVALID, "damaged")
}

type recordingChecker struct {
	check string
	err   error
}

func (c *recordingChecker) CheckSecret(_ context.Context, check string) error {
	c.check = check
	return c.err
}

// TestCoverageAndReconcile checks that the coverage totals add up the
// rows, and that reconcile flags by the threshold and can list only the
// flagged rows.
func TestCoverageAndReconcile(t *testing.T) {
	e, d := loaded(t, 1000)
	ctx := context.Background()
	cov, err := e.svc.Coverage(ctx, keymeter.CoverageQuery{From: oct[0], To: oct[1]})
	if err != nil {
		t.Fatal(err)
	}
	var std int64
	for _, r := range cov.Rows {
		std += r.Standard
	}
	if len(cov.Rows) == 0 || cov.Total.Standard != std || std != int64(len(d.records)) || cov.Total.WithRealtime != 0 {
		t.Errorf("coverage: %d rows, total %+v; want every standard request, none with a real-time record", len(cov.Rows), cov.Total)
	}
	q := keymeter.ReconcileQuery{From: oct[0], To: oct[1], By: []keymeter.Dimension{keymeter.DimCustomer}}
	zero, err := keymeter.ParseThreshold("0")
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.svc.Reconcile(ctx, service.ReconcileRequest{Query: q, Threshold: zero})
	if err != nil {
		t.Fatal(err)
	}
	var us []int64
	for _, r := range first.Rows {
		us = append(us, max(r.Unexplained(), -r.Unexplained()))
	}
	slices.Sort(us)
	limit := us[len(us)/2] // about half the rows exceed it
	th, err := keymeter.ParseThreshold(fmt.Sprint(limit))
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.svc.Reconcile(ctx, service.ReconcileRequest{Query: q, Threshold: th})
	if err != nil {
		t.Fatal(err)
	}
	flagged, err := e.svc.Reconcile(ctx, service.ReconcileRequest{Query: q, Threshold: th, FlaggedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range all.Rows {
		if r.Flagged != (r.Unexplained() > limit || r.Unexplained() < -limit) {
			t.Errorf("row %v: unexplained %d, flagged %v", r.Group, r.Unexplained(), r.Flagged)
		}
		if r.Flagged {
			n++
		}
	}
	if n == 0 || n == len(all.Rows) || all.Flagged != n || flagged.Flagged != n || len(flagged.Rows) != n || flagged.Total != len(all.Rows) {
		t.Errorf("reconcile: %d of %d rows flagged (%d counted), --flagged lists %d of %d; want some flagged, and only those listed",
			n, len(all.Rows), all.Flagged, len(flagged.Rows), flagged.Total)
	}
}
