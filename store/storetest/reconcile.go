package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// status000 stands for CloudFront's status 000 in test events (0 means
// the default, 200).
const status000 = -1000

func testReconcile(t *testing.T, s keymeter.Store) {
	rec, ok := s.(keymeter.Reconciler)
	if !ok {
		t.Skip("the store does not implement keymeter.Reconciler")
	}
	acmeID := keymeter.OriginIdentity(keymeter.IdentityAPIKeyID, []byte("A1"))
	_, err := s.ImportKeys(ctx, []keymeter.KeyAssignment{
		{KeyFingerprint: testKey("k1"), Customer: "acme"}, {KeyFingerprint: acmeID, Customer: "acme"},
		{KeyFingerprint: testKey("k2"), Customer: "globex"},
		{KeyFingerprint: keymeter.OriginIdentity(keymeter.IdentityAPIKeyID, []byte("B1")), Customer: "globex"},
	})
	if err != nil {
		t.Fatal(err)
	}
	day2 := 24 * time.Hour
	cf, apigw, rt := keymeter.SourceCloudFront, keymeter.SourceAPIGateway, keymeter.SourceCloudFrontRealtime
	write(t, s, "obj1",
		// acme, day 1: 9 edge requests, of which 3 answered from the edge
		// (Hit, RefreshHit, Redirect) and 3 edge errors (LimitExceeded, Error
		// 502, Error 000); Error 404 and the Misses reach the origin.
		ev{at: time.Hour, id: "a1", key: "k1", result: "Hit", source: cf},
		ev{at: time.Hour, id: "a2", key: "k1", result: "RefreshHit", source: cf},
		ev{at: time.Hour, id: "a3", key: "k1", result: "Redirect", status: 301, source: cf},
		ev{at: time.Hour, id: "a4", key: "k1", result: "LimitExceeded", status: 429, source: cf},
		ev{at: time.Hour, id: "a5", key: "k1", result: "Error", status: 502, source: cf},
		ev{at: time.Hour, id: "a6", key: "k1", result: "Error", status: status000, source: cf},
		ev{at: time.Hour, id: "a7", key: "k1", result: "Error", status: 404, source: cf},
		ev{at: time.Hour, id: "a8", key: "k1", result: "Miss", source: cf},
		ev{at: time.Hour, id: "a9", key: "k1", result: "Miss", source: cf},
		ev{at: 2 * time.Hour, id: "o1", key: "A1", identity: true, status: 404, source: apigw},
		ev{at: 2 * time.Hour, id: "o2", key: "A1", identity: true, source: apigw},
		ev{at: 2 * time.Hour, id: "o3", key: "A1", identity: true, source: apigw},
		// globex, day 1: 3 misses, 2 at the origin: one lost.
		ev{at: 3 * time.Hour, id: "g1", key: "k2", source: cf},
		ev{at: 3 * time.Hour, id: "g2", key: "k2", source: cf},
		ev{at: 3 * time.Hour, id: "g3", key: "k2", source: cf},
		ev{at: 3 * time.Hour, id: "g4", key: "B1", identity: true, source: apigw},
		ev{at: 3 * time.Hour, id: "g5", key: "B1", identity: true, source: apigw},
		// Without a key on either side.
		ev{at: 4 * time.Hour, id: "n1", source: cf},
		ev{at: 4 * time.Hour, id: "n2", source: apigw},
		// acme, day 2: only at the origin.
		ev{at: day2 + time.Hour, id: "o4", key: "A1", identity: true, source: apigw},
		// Real-time logs: in October the record of a8 (the edge join
		// counts a8 once), and two requests in November that only the
		// real-time log has yet.
		ev{at: time.Hour + time.Millisecond, id: "a8", key: "k1", source: rt},
		ev{at: 31*day2 + time.Hour, id: "r2", key: "k1", source: rt},
		ev{at: 31*day2 + 2*time.Hour, id: "r3", key: "k1", result: "Hit", source: rt},
		ev{at: 31*day2 + time.Hour, id: "o5", key: "A1", identity: true, source: apigw},
	)
	october := keymeter.ReconcileQuery{From: day0, To: day0.AddDate(0, 1, 0)}
	render := func(q keymeter.ReconcileQuery) (keymeter.Source, []string) {
		t.Helper()
		res, err := rec.Reconcile(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Origin != apigw {
			t.Errorf("origin %s", res.Origin)
		}
		var out []string
		for _, r := range res.Rows {
			g := ""
			for _, v := range r.Group {
				if v.Null {
					g += "<null>|"
				} else {
					g += v.Value + "|"
				}
			}
			out = append(out, fmt.Sprintf("%s%d %d %d %d %d", g, r.EdgeRequests, r.EdgeHits, r.EdgeErrors, r.OriginRequests, r.Unexplained()))
		}
		return res.Edge, out
	}

	q := october
	q.By = []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimDay}
	edge, got := render(q)
	if edge != keymeter.SourceEdge {
		t.Errorf("edge source %s, want edge (the join of both CloudFront logs)", edge)
	}
	expect(t, "by customer and day", got, []string{
		"acme|2025-10-01|9 3 3 3 0",
		"acme|2025-10-02|0 0 0 1 -1",
		"globex|2025-10-01|3 0 0 2 1",
		"<null>|2025-10-01|1 0 0 1 0",
	})
	_, got = render(october)
	expect(t, "total", got, []string{"13 3 3 7 0"})
	q.Edge = cf
	_, got = render(q)
	expect(t, "standard logs alone, by customer and day", got, []string{
		"acme|2025-10-01|9 3 3 3 0",
		"acme|2025-10-02|0 0 0 1 -1",
		"globex|2025-10-01|3 0 0 2 1",
		"<null>|2025-10-01|1 0 0 1 0",
	})

	q.Edge = rt
	q.By = []keymeter.Dimension{keymeter.DimMonth}
	_, got = render(q)
	expect(t, "real-time logs in October", got, []string{"2025-10|1 0 0 7 -6"})

	november := keymeter.ReconcileQuery{From: day0.AddDate(0, 1, 0), To: day0.AddDate(0, 2, 0), By: []keymeter.Dimension{keymeter.DimCustomer}}
	edge, got = render(november)
	if edge != keymeter.SourceEdge {
		t.Errorf("November: edge source %s, want edge", edge)
	}
	expect(t, "November", got, []string{"acme|2 1 0 1 0"})

	for _, bad := range []keymeter.ReconcileQuery{
		{From: day0, To: day0},
		{From: day0, To: day0.AddDate(0, 1, 0), By: []keymeter.Dimension{keymeter.DimPath}},
		{From: day0, To: day0.AddDate(0, 1, 0), Edge: apigw},
	} {
		if _, err := rec.Reconcile(ctx, bad); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("Reconcile(%+v): %v, want EINVALID", bad, err)
		}
	}

	// Origin identities are listed and counted like keys.
	keys, err := s.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys {
		if k.ID == acmeID.ID {
			found = true
			if k.Fingerprint != "apikeyid:A1" || k.Customer != "acme" || k.Requests != 5 || k.Hint != "" {
				t.Errorf("origin identity listed as %+v", k)
			}
		}
	}
	if !found {
		t.Error("origin identity not listed")
	}
}
