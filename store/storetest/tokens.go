package storetest

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// testTokens checks the keymeter.TokenStore contract, for stores that
// keep tokens: create, read back, list in order, conflicts, revoking
// (which keeps its first time) and the errors for unknown tokens.
func testTokens(t *testing.T, s keymeter.Store) {
	ts, ok := s.(keymeter.TokenStore)
	if !ok {
		t.Skipf("%T keeps no tokens", s)
	}
	if got, err := ts.ListTokens(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	at := time.Date(2025, 10, 2, 3, 4, 5, 0, time.UTC)
	admin := keymeter.Token{ID: "0a1b2c3d4e5f6071", Hash: sha256.Sum256([]byte("admin secret")), CreatedAt: at}
	acme := keymeter.Token{ID: "ffeeddccbbaa9988", Customer: "acme", Hash: sha256.Sum256([]byte("acme secret")), CreatedAt: at.Add(time.Second)}
	for _, tok := range []keymeter.Token{acme, admin} {
		if err := ts.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	dup := admin
	dup.Customer = "globex"
	if err := ts.CreateToken(ctx, dup); keymeter.ErrorCode(err) != keymeter.ECONFLICT {
		t.Errorf("a second token with the same ID: %v, want ECONFLICT", err)
	}
	got, err := ts.Token(ctx, acme.ID)
	if err != nil || got != acme {
		t.Errorf("Token(%s) = %+v, %v; want %+v", acme.ID, got, err, acme)
	}
	if _, err := ts.Token(ctx, "nosuchtoken"); keymeter.ErrorCode(err) != keymeter.ENOTFOUND {
		t.Errorf("Token of an unknown ID: %v, want ENOTFOUND", err)
	}
	revokedAt := at.Add(time.Hour)
	if err := ts.RevokeToken(ctx, acme.ID, revokedAt); err != nil {
		t.Fatal(err)
	}
	if err := ts.RevokeToken(ctx, acme.ID, revokedAt.Add(time.Hour)); err != nil {
		t.Fatalf("revoking again: %v", err)
	}
	if err := ts.RevokeToken(ctx, "nosuchtoken", revokedAt); keymeter.ErrorCode(err) != keymeter.ENOTFOUND {
		t.Errorf("revoking an unknown token: %v, want ENOTFOUND", err)
	}
	list, err := ts.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, tok := range list {
		rows = append(rows, fmt.Sprintf("%s %q %x %s %s %v", tok.ID, tok.Customer, tok.Hash[:4],
			tok.CreatedAt.Format(time.RFC3339), tok.RevokedAt.Format(time.RFC3339), tok.Revoked()))
	}
	expect(t, "tokens", rows, []string{
		fmt.Sprintf(`0a1b2c3d4e5f6071 "" %x 2025-10-02T03:04:05Z 0001-01-01T00:00:00Z false`, admin.Hash[:4]),
		fmt.Sprintf(`ffeeddccbbaa9988 "acme" %x 2025-10-02T03:04:06Z 2025-10-02T04:04:05Z true`, acme.Hash[:4]),
	})
}
