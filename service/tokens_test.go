package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/service"
)

// TestTokens makes, authenticates, lists and revokes tokens over the
// real store: the store keeps no secret, a wrong or revoked token is
// refused with EUNAUTHORIZED, and a customer token is scoped.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	e, d := loaded(t, 200)
	admin, err := e.svc.CreateToken(ctx, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cust, err := e.svc.CreateToken(ctx, nil, d.keys[0].Customer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateToken(ctx, nil, "nobody")
	wantCode(t, "token of an unknown customer", err, keymeter.ENOTFOUND, "nobody")
	_, err = e.svc.CreateToken(ctx, parseBilling(t, sampleBilling), "customer-01")
	if err != nil {
		t.Errorf("token of a customer on a plan: %v", err)
	}

	if !strings.HasPrefix(admin.Secret, "kmt_"+admin.ID+"_") || len(admin.Secret) != 4+16+1+64 {
		t.Errorf("token %q: want kmt_<16 hex>_<64 hex>", admin.Secret)
	}
	p, err := e.svc.Authenticate(ctx, admin.Secret)
	if err != nil || !p.Admin() || p.TokenID != admin.ID {
		t.Errorf("admin token: %+v, %v", p, err)
	}
	p, err = e.svc.Authenticate(ctx, cust.Secret)
	if err != nil || p.Admin() || p.Customer != d.keys[0].Customer {
		t.Fatalf("customer token: %+v, %v", p, err)
	}
	if got, err := p.Scope(""); err != nil || got != p.Customer {
		t.Errorf("customer scope of everyone: %q, %v", got, err)
	}
	_, err = p.Scope("customer-99")
	wantCode(t, "customer scope of another", err, keymeter.EFORBIDDEN, "own customer")
	wantCode(t, "customer as admin", p.RequireAdmin(), keymeter.EFORBIDDEN, "")

	wrong := admin.Secret[:len(admin.Secret)-1] + "0"
	if wrong == admin.Secret {
		wrong = admin.Secret[:len(admin.Secret)-1] + "1"
	}
	for _, bad := range []string{"", "kmt_", wrong, "Bearer " + admin.Secret, strings.ToUpper(admin.Secret),
		"kmt_0000000000000000_" + strings.Repeat("0", 64)} {
		_, err := e.svc.Authenticate(ctx, bad)
		wantCode(t, "token "+bad, err, keymeter.EUNAUTHORIZED, "not valid")
	}

	list, err := e.svc.ListTokens(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("tokens: %v, %v", list, err)
	}
	for _, tok := range list {
		if tok.Hash == ([32]byte{}) {
			t.Errorf("token %s without its hash", tok.ID)
		}
	}
	if err := e.svc.RevokeToken(ctx, cust.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(ctx, cust.Secret)
	wantCode(t, "revoked token", err, keymeter.EUNAUTHORIZED, "revoked")
	wantCode(t, "revoke unknown", e.svc.RevokeToken(ctx, "0123456789abcdef"), keymeter.ENOTFOUND, "0123456789abcdef")
	var _ service.Principal = p
}
