package keymeter

import (
	"context"
	"time"
)

// Token is an API token of the HTTP API and the dashboard, as the store
// keeps it: never the token itself, only the SHA-256 of its secret part.
// A token is an admin's (Customer "") or scoped to one customer.
type Token struct {
	// ID names the token in lists and for revoking; it is the token's
	// public part and is no secret.
	ID string
	// Customer is the customer the token is scoped to; "" for an admin
	// token.
	Customer string
	// Hash is the SHA-256 of the token's secret part.
	Hash [32]byte
	// CreatedAt is when the token was made; RevokedAt when it was
	// revoked (zero while it is valid).
	CreatedAt time.Time
	RevokedAt time.Time
}

// Revoked reports whether t was revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// TokenStore keeps API tokens.
type TokenStore interface {
	// CreateToken stores t. It returns an ECONFLICT error when a token
	// with t.ID exists.
	CreateToken(ctx context.Context, t Token) error
	// Token returns the token with the ID; an ENOTFOUND error when there
	// is none.
	Token(ctx context.Context, id string) (Token, error)
	// ListTokens returns every token, revoked ones included, ordered by
	// creation time then ID.
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks the token revoked at a time; revoking a revoked
	// token keeps its first time. It returns an ENOTFOUND error when
	// there is no such token.
	RevokeToken(ctx context.Context, id string, at time.Time) error
}
