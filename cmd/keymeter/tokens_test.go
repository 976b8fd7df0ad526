package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTokensCommands makes an admin and a customer token, lists and
// revokes them, and checks that no token reaches the store's file.
func TestTokensCommands(t *testing.T) {
	c := newCLI(t)
	c.ok("keys", "import", "../../testdata/sample/keys.csv")
	tokenLine := regexp.MustCompile(`^kmt_[0-9a-f]{16}_[0-9a-f]{64}\n$`)
	admin := c.ok("tokens", "create")
	acme := c.ok("tokens", "create", "--customer", "acme")
	for _, tok := range []string{admin, acme} {
		if !tokenLine.MatchString(tok) {
			t.Fatalf("tokens create printed %q; want the token alone on a line", tok)
		}
	}
	if r := c.run("tokens", "create", "--customer", "nobody"); r.code != exitNotFound || !strings.Contains(r.stderr, "nobody") {
		t.Errorf("token of an unknown customer: exit %d, %q", r.code, r.stderr)
	}
	adminID, acmeID := admin[4:20], acme[4:20]
	list := c.ok("tokens", "list", "--format", "csv")
	if !strings.HasPrefix(list, "id,customer,created_at,revoked_at\n"+adminID+",,") || !strings.Contains(list, "\n"+acmeID+",acme,") {
		t.Errorf("tokens list:\n%s", list)
	}
	c.ok("tokens", "revoke", acmeID)
	if list := c.ok("tokens", "list", "--format", "json"); !regexp.MustCompile(`"id": "`+acmeID+`", "customer": "acme", "created_at": "[^"]+", "revoked_at": "20`).MatchString(list) ||
		!strings.Contains(list, `"id": "`+adminID+`", "customer": null, "created_at": "`) {
		t.Errorf("after revoking %s, tokens list:\n%s", acmeID, list)
	}
	if r := c.run("tokens", "revoke", "0123456789abcdef"); r.code != exitNotFound {
		t.Errorf("revoke an unknown token: exit %d, %q", r.code, r.stderr)
	}
	db, err := os.ReadFile(filepath.Join(c.data, "keymeter.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{admin, acme} {
		if secret := strings.TrimSpace(tok)[21:]; strings.Contains(string(db), secret) {
			t.Errorf("the store's file holds a token's secret")
		}
	}
}
