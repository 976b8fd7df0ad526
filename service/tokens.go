package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/keymeter/keymeter"
)

// A token is "kmt_" + its ID (16 hex digits, public: it names the token
// in lists) + "_" + its secret (64 hex digits: 256 random bits). The
// store keeps the ID and the SHA-256 of the secret only; a request's
// token is found by its ID and its secret's hash compared in constant
// time.
const (
	tokenPrefix    = "kmt_"
	tokenIDLen     = 16
	tokenSecretLen = 64
)

// Principal is who a request comes from: an admin, or a customer's
// token, which sees only that customer's usage, keys, invoices and
// alerts. The scoping rules are its methods, so that the HTTP API and
// the dashboard apply the same ones.
type Principal struct {
	// TokenID is the token's ID; never its secret.
	TokenID string
	// Customer is the customer a customer's token is scoped to; "" for
	// an admin.
	Customer string
}

// Admin reports whether p is an admin.
func (p Principal) Admin() bool { return p.Customer == "" }

// RequireAdmin returns an EFORBIDDEN error unless p is an admin.
func (p Principal) RequireAdmin() error {
	if p.Admin() {
		return nil
	}
	return keymeter.Errorf(keymeter.EFORBIDDEN, "a customer's token may not do this")
}

// Scope returns the customer a question asked for customer ("": any, or
// every customer) is answered for: customer itself for an admin; for a
// customer's token its own customer when customer is "" or its own, and
// an EFORBIDDEN error for any other.
func (p Principal) Scope(customer string) (string, error) {
	switch {
	case p.Admin():
		return customer, nil
	case customer == "" || customer == p.Customer:
		return p.Customer, nil
	}
	return "", keymeter.Errorf(keymeter.EFORBIDDEN, "a customer's token sees only its own customer")
}

// NewToken is a token just made: the only time its secret exists
// outside of the one who holds it.
type NewToken struct {
	keymeter.Token
	// Secret is the whole token, as requests carry it
	// ("kmt_<id>_<secret>").
	Secret string
}

// tokens returns the store's TokenStore: Stores.Tokens, or the store
// itself when it keeps tokens; an EINVALID error when it does not.
func tokens(st *Stores) (keymeter.TokenStore, error) {
	if st.Tokens != nil {
		return st.Tokens, nil
	}
	if ts, ok := st.Ingest.(keymeter.TokenStore); ok {
		return ts, nil
	}
	return nil, keymeter.Errorf(keymeter.EINVALID, "this store keeps no API tokens")
}

// CreateToken makes a token: an admin's when customer is "", else one
// scoped to customer, which must own a key or be on a plan (in the store,
// or in b when b is not nil). It returns an ENOTFOUND error for an
// unknown customer.
func (s *Service) CreateToken(ctx context.Context, b *Billing, customer string) (_ *NewToken, err error) {
	if err := keymeter.CheckText("customer name", customer); err != nil {
		return nil, err
	}
	st, err := s.open(ctx, Write)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	ts, err := tokens(st)
	if err != nil {
		return nil, err
	}
	if customer != "" {
		known, err := knownCustomer(ctx, st, b, customer)
		if err != nil {
			return nil, err
		}
		if !known {
			return nil, keymeter.Errorf(keymeter.ENOTFOUND, "customer %q owns no key and is on no plan", customer)
		}
	}
	var raw [tokenIDLen/2 + tokenSecretLen/2]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("make token: %w", err)
	}
	id := hex.EncodeToString(raw[:tokenIDLen/2])
	secret := hex.EncodeToString(raw[tokenIDLen/2:])
	t := keymeter.Token{ID: id, Customer: customer, Hash: sha256.Sum256([]byte(secret)), CreatedAt: s.now().UTC()}
	if err := ts.CreateToken(ctx, t); err != nil {
		return nil, err
	}
	return &NewToken{Token: t, Secret: tokenPrefix + id + "_" + secret}, nil
}

// knownCustomer reports whether customer owns a key or is on a plan.
func knownCustomer(ctx context.Context, st *Stores, b *Billing, customer string) (bool, error) {
	if b != nil && b.Config != nil {
		if _, ok := b.Config.Customer(customer); ok {
			return true, nil
		}
	}
	cps, err := st.Customers.ListCustomers(ctx)
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(cps, func(c keymeter.CustomerPlan) bool { return c.Customer == customer }) {
		return true, nil
	}
	keys, err := st.Keys.ListKeys(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(keys, func(k keymeter.Key) bool { return k.Customer == customer }), nil
}

// ListTokens lists every token, revoked ones included (IDs and hashes,
// never a secret), oldest first.
func (s *Service) ListTokens(ctx context.Context) (_ []keymeter.Token, err error) {
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	ts, err := tokens(st)
	if err != nil {
		return nil, err
	}
	return ts.ListTokens(ctx)
}

// RevokeToken revokes the token with the ID (or the whole token: its ID
// is read from it). It returns an ENOTFOUND error when there is none.
func (s *Service) RevokeToken(ctx context.Context, id string) (err error) {
	if tid, _, ok := splitToken(id); ok {
		id = tid
	}
	st, err := s.open(ctx, Write)
	if err != nil {
		return err
	}
	defer done(st, &err)
	ts, err := tokens(st)
	if err != nil {
		return err
	}
	return ts.RevokeToken(ctx, id, s.now().UTC())
}

// Authenticate returns who holds token. It returns an EUNAUTHORIZED
// error, which says nothing more, for a token that is malformed, unknown
// or revoked. The secret's hash is compared in constant time.
func (s *Service) Authenticate(ctx context.Context, token string) (_ Principal, err error) {
	denied := keymeter.Errorf(keymeter.EUNAUTHORIZED, "the token is not valid or was revoked")
	id, secret, ok := splitToken(token)
	if !ok {
		return Principal{}, denied
	}
	st, err := s.open(ctx, Read)
	if err != nil {
		return Principal{}, err
	}
	defer done(st, &err)
	ts, err := tokens(st)
	if err != nil {
		return Principal{}, err
	}
	t, err := ts.Token(ctx, id)
	if keymeter.ErrorCode(err) == keymeter.ENOTFOUND {
		// Compare anyway, so that an unknown ID takes as long as a
		// known one with a wrong secret.
		t = keymeter.Token{}
	} else if err != nil {
		return Principal{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], t.Hash[:]) != 1 || t.ID == "" || t.Revoked() {
		return Principal{}, denied
	}
	return Principal{TokenID: t.ID, Customer: t.Customer}, nil
}

// splitToken splits "kmt_<id>_<secret>" into its ID and secret.
func splitToken(token string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(rest) != tokenIDLen+1+tokenSecretLen || rest[tokenIDLen] != '_' {
		return "", "", false
	}
	id, secret = rest[:tokenIDLen], rest[tokenIDLen+1:]
	if !isLowerHex(id) || !isLowerHex(secret) {
		return "", "", false
	}
	return id, secret, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
