package postgres_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/store/postgres"
)

var day0 = time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)

// testEvents returns n unattributed CloudFront events over three days;
// event i has ID i and sends i+1 bytes.
func testEvents(n int) []keymeter.Row {
	rows := make([]keymeter.Row, n)
	for i := range rows {
		rows[i] = keymeter.Row{
			Time: day0.Add(time.Duration(i) * 72 * time.Hour / time.Duration(n)).UnixMicro(),
			ID:   [2]uint64{uint64(i) * 0x9e3779b97f4a7c15, uint64(i)}, Attribution: keymeter.NoKey,
			BytesSent: int64(i + 1), TimeTaken: int32(i % 100), TTFB: -1, ClientPort: -1, FLEEncrypt: -1,
			ContentLen: -1, RangeStart: -1, RangeEnd: -1,
		}
	}
	return rows
}

func batchOf(rows []keymeter.Row) *keymeter.Batch {
	return &keymeter.Batch{Source: keymeter.SourceCloudFront, Rows: rows}
}

// total returns the store's requests and bytes sent over October.
func total(t *testing.T, s keymeter.Store) string {
	t.Helper()
	rows, err := s.Usage(ctx, keymeter.UsageQuery{From: day0, To: day0.AddDate(0, 1, 0)})
	if err != nil || len(rows) != 1 {
		t.Fatalf("usage: %v, %v", rows, err)
	}
	return fmt.Sprintf("%s requests, %s bytes", rows[0].Requests, rows[0].BytesSent)
}

func want(n int) string {
	return fmt.Sprintf("%d requests, %d bytes", n, n*(n+1)/2)
}

// TestRacedCommit: a writer whose events another writer commits first,
// between its Write and its Commit, commits nothing and says so; written
// again, the events are duplicates.
func TestRacedCommit(t *testing.T) {
	url := freshDatabase(t)
	a, b := open(t, url), open(t, url)
	defer a.Close()
	defer b.Close()
	events := testEvents(100)
	wa, err := a.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer wa.Close()
	if res, err := wa.Write(ctx, batchOf(events[:60])); err != nil || res.Stored != 60 {
		t.Fatalf("a writes: %+v, %v", res, err)
	}
	if err := wa.(keymeter.Checkpointer).SetCheckpoint(ctx, "stream", "shard-1", "60"); err != nil {
		t.Fatal(err)
	}
	wb, err := b.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := wb.Write(ctx, batchOf(events[50:])); err != nil || res.Stored != 50 {
		t.Fatalf("b writes: %+v, %v", res, err)
	}
	if err := wb.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wb.Close()
	err = wa.Commit(ctx)
	if !errors.Is(err, postgres.ErrRaced) || keymeter.ErrorCode(err) != keymeter.ECONFLICT {
		t.Fatalf("a's commit after b's: %v, want ErrRaced", err)
	}
	if err := wa.Commit(ctx); err == nil {
		t.Error("a raced writer committed again")
	}
	wa.Close()
	if got := total(t, a); got != "50 requests, 3775 bytes" {
		t.Errorf("after the race: %s, want b's 50 events only", got)
	}
	if cp, err := a.Checkpoints(ctx, "stream"); err != nil || len(cp) != 0 {
		t.Errorf("checkpoint of the raced transaction: %v, %v", cp, err)
	}
	// a writes its transaction again.
	wa, err = a.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer wa.Close()
	if res, err := wa.Write(ctx, batchOf(events[:60])); err != nil || res.Stored != 50 || res.Duplicates != 10 {
		t.Fatalf("a writes again: %+v, %v", res, err)
	}
	if err := wa.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := total(t, a); got != want(100) {
		t.Errorf("after the retry: %s, want %s", got, want(100))
	}
}

// TestConcurrentWriters: two workers on one database write the same
// events at the same time, in different batches and orders, committing
// often and writing a transaction again when it raced: the totals are
// exactly those of the events, each counted once, and the events stored
// by their committed transactions add up to them.
func TestConcurrentWriters(t *testing.T) {
	url := freshDatabase(t)
	const n = 3000
	events := testEvents(n)
	reversed := slices.Clone(events)
	slices.Reverse(reversed)
	var wg sync.WaitGroup
	stored := make([]int, 2)
	raced := make([]int, 2)
	errs := make([]error, 2)
	for i, order := range [][]keymeter.Row{events, reversed} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, url, postgres.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			size := 70 + 30*i // batch sizes differ
			for start := 0; start < n; start += 3 * size {
				// One transaction of three batches, written again until it
				// commits.
				for {
					got, err := writeTx(s, order[start:min(start+3*size, n)], size)
					if errors.Is(err, postgres.ErrRaced) {
						raced[i]++
						continue
					}
					if err != nil {
						errs[i] = err
						return
					}
					stored[i] += got
					break
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("stored %v, raced transactions %v", stored, raced)
	if stored[0]+stored[1] != n {
		t.Errorf("the workers' committed transactions stored %d events, want %d", stored[0]+stored[1], n)
	}
	s := open(t, url)
	defer s.Close()
	if got := total(t, s); got != want(n) {
		t.Errorf("totals %s, want %s", got, want(n))
	}
}

// writeTx writes rows in batches of size in one writer's transaction and
// commits it, returning the rows it stored.
func writeTx(s *postgres.DB, rows []keymeter.Row, size int) (int, error) {
	w, err := s.NewWriter(ctx)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	stored := 0
	for i := 0; i < len(rows); i += size {
		res, err := w.Write(ctx, batchOf(rows[i:min(i+size, len(rows))]))
		if err != nil {
			return 0, err
		}
		stored += res.Stored
	}
	if err := w.Commit(ctx); err != nil {
		return 0, err
	}
	return stored, nil
}

// TestClaims: two workers claiming at once get disjoint objects that
// together are every object offered; an object whose lease ran out is
// claimed by another worker; an object read completely is done, one read
// in part is released.
func TestClaims(t *testing.T) {
	url := freshDatabase(t)
	var uris []string
	for i := range 100 {
		uris = append(uris, fmt.Sprintf("s3://bucket/logs/%03d.gz", i))
	}
	s := open(t, url)
	defer s.Close()
	if err := s.OfferObjects(ctx, uris); err != nil {
		t.Fatal(err)
	}
	if err := s.OfferObjects(ctx, uris[:10]); err != nil { // offered again: no change
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	claimed := make([][]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := postgres.Open(ctx, url, postgres.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			defer w.Close()
			for {
				got, err := w.ClaimObjects(ctx, fmt.Sprint("worker-", i), 7, time.Hour)
				if err != nil {
					errs[i] = err
					return
				}
				if len(got) == 0 {
					return
				}
				claimed[i] = append(claimed[i], got...)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(claimed[0]), claimed[1]...)
	slices.Sort(all)
	if !slices.Equal(all, uris) {
		t.Errorf("claimed %d objects (%d and %d), want each of the %d once", len(all), len(claimed[0]), len(claimed[1]), len(uris))
	}
	if n, err := s.RenewClaims(ctx, "worker-0", time.Hour); err != nil || n != len(claimed[0]) {
		t.Errorf("renew: %d, %v; want %d", n, err, len(claimed[0]))
	}
	if got, err := s.ClaimObjects(ctx, "worker-2", 10, time.Hour); err != nil || len(got) != 0 {
		t.Errorf("claims while every lease runs: %v, %v", got, err)
	}

	// A worker that stops renewing: its leases run out (a zero lease has
	// run out by the next statement), and another worker takes them.
	url2 := freshDatabase(t)
	s2 := open(t, url2)
	defer s2.Close()
	if err := s2.OfferObjects(ctx, uris[:3]); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.ClaimObjects(ctx, "dead", 10, 0); err != nil || len(got) != 3 {
		t.Fatalf("dead worker's claim: %v, %v", got, err)
	}
	if n, err := s2.RenewClaims(ctx, "dead", time.Hour); err != nil || n != 0 {
		t.Errorf("renewing run-out leases: %d, %v; want 0", n, err)
	}
	got, err := s2.ClaimObjects(ctx, "alive", 10, time.Hour)
	if err != nil || !slices.Equal(got, uris[:3]) {
		t.Fatalf("takeover: %v, %v", got, err)
	}
	// alive reads two of them: the first completely, the second in part.
	w, err := s2.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i, status := range []string{keymeter.ObjectComplete, keymeter.ObjectPartial} {
		if err := w.FinishObject(ctx, keymeter.ObjectRecord{Object: keymeter.Object{URI: uris[i], Size: 1}, Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.ClaimObjects(ctx, "next", 10, time.Hour); err != nil || !slices.Equal(got, uris[1:2]) {
		t.Errorf("after the reads: %v, %v; want the object read in part only", got, err)
	}
}

// TestMigrations: workers opening a new database at once create the
// schema once; a schema newer than this keymeter's is refused.
func TestMigrations(t *testing.T) {
	url := freshDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, url, postgres.Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, `SELECT value FROM km_meta WHERE key = 'schema_version'`).Scan(&v); err != nil || v != "4" {
		t.Errorf("schema version %q, %v; want 4", v, err)
	}
	if _, err := conn.Exec(ctx, `UPDATE km_meta SET value = '99' WHERE key = 'schema_version'`); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(ctx, url, postgres.Options{}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		if err == nil {
			s.Close()
		}
		t.Errorf("open a newer schema: %v, want EINVALID", err)
	}
}

// TestSecret: the first check is recorded; every later one must match.
func TestSecret(t *testing.T) {
	s := open(t, freshDatabase(t))
	defer s.Close()
	for _, c := range []string{"check-1", "check-1"} {
		if err := s.CheckSecret(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CheckSecret(ctx, "check-2"); keymeter.ErrorCode(err) != keymeter.ECONFLICT {
		t.Errorf("another secret: %v, want ECONFLICT", err)
	}
}

// TestKeyHandedOnce: a key is listed in the first batch that refers to
// it (keymeter.Batch.Keys), and later batches, in later transactions,
// refer to it by ID only, even when the first batch's transaction was
// rolled back.
func TestKeyHandedOnce(t *testing.T) {
	s := open(t, freshDatabase(t))
	defer s.Close()
	fp := keymeter.NewFingerprinter([]byte("secret")).Fingerprint([]byte("key-0123456789abcdef"))
	events := testEvents(4)
	for i := range events {
		events[i].KeyID, events[i].Attribution = fp.ID, keymeter.Attributed
	}
	// The batch that hands the key is rolled back: the key outlives it,
	// since its encoder will not hand it again.
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx, &keymeter.Batch{Source: keymeter.SourceCloudFront, Rows: events[:1], Keys: []keymeter.KeyFingerprint{fp}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	for i, b := range []*keymeter.Batch{
		{Source: keymeter.SourceCloudFront, Rows: events[:2]},
		{Source: keymeter.SourceCloudFront, Rows: events[2:]},
	} {
		w, err := s.NewWriter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := w.Write(ctx, b); err != nil || res.Stored != 2 {
			t.Fatalf("batch %d: %+v, %v", i, res, err)
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Fingerprint != fp.Fingerprint || keys[0].Requests != 4 ||
		!keys[0].LastSeen.Equal(time.UnixMicro(events[3].Time)) {
		t.Errorf("keys %+v, %v; want %s with 4 requests, last seen at the last event", keys, err, fp.Fingerprint)
	}
}

// TestReconcileOneEdgeLog reconciles CloudFront's standard log with API
// Gateway from the rollups: hits and the edge's own errors are counted
// by the edge results of dictionary entries handed to the store once,
// by another worker than the one whose events refer to them.
func TestReconcileOneEdgeLog(t *testing.T) {
	url := freshDatabase(t)
	a, b := open(t, url), open(t, url)
	defer a.Close()
	defer b.Close()
	cf := keymeter.SourceCloudFront
	layout := keymeter.LayoutOf(cf).Dims
	result := slices.Index(layout, keymeter.FieldEdgeResult)
	var dict []keymeter.DictEntry
	for i, r := range []string{"Hit", "RefreshHit", "Redirect", "LimitExceeded", "Error", "Miss"} {
		vals := make([]string, len(layout))
		for j := range vals {
			vals[j] = "-"
		}
		vals[result] = r
		dict = append(dict, keymeter.DictEntry{Kind: keymeter.DictDims, Source: cf, ID: uint64(i + 1), Values: vals})
	}
	edge := testEvents(9)
	// Hit, RefreshHit, Redirect; LimitExceeded; Error 502, Error 000
	// (the edge's); Error 404 (the origin's); two Misses.
	for i, d := range []uint64{1, 2, 3, 4, 5, 5, 5, 6, 6} {
		edge[i].Dims, edge[i].Status = d, 200
	}
	edge[5].Status, edge[4].Status, edge[6].Status = 0, 502, 404
	origin := testEvents(20)[10:15]
	// a hands the dictionary with the first edge event; b writes the rest.
	wa, err := a.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wa.Write(ctx, &keymeter.Batch{Source: cf, Rows: edge[:1], Dict: dict}); err != nil {
		t.Fatal(err)
	}
	if err := wa.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wa.Close()
	wb, err := b.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	for _, bt := range []*keymeter.Batch{{Source: cf, Rows: edge[1:]}, {Source: keymeter.SourceAPIGateway, Rows: origin}} {
		if _, err := wb.Write(ctx, bt); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := b.Reconcile(ctx, keymeter.ReconcileQuery{From: day0, To: day0.AddDate(0, 1, 0), Edge: cf, By: []keymeter.Dimension{keymeter.DimMonth}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Rows); got != "[{[{2025-10 false}] 9 3 3 5}]" {
		t.Errorf("reconciliation %s, want 9 edge requests, 3 hits, 3 edge errors, 5 at the origin", got)
	}
	if _, err := b.Reconcile(ctx, keymeter.ReconcileQuery{From: day0, To: day0.AddDate(0, 1, 0)}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("reconciling the edge join: %v, want EINVALID (it needs the lake)", err)
	}
}
