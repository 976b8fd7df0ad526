package main

import (
	"context"
	"fmt"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

const tokensUsage = `Usage:
  keymeter tokens create [--customer NAME]   make a token of the HTTP API and dashboard, printed alone on stdout
  keymeter tokens list [flags]               list tokens: IDs, scopes, when made and revoked (never a token)
  keymeter tokens revoke ID                  revoke a token (its ID, or the whole token)

A token without --customer is an admin's: it sees and does everything. A token
with --customer sees only that customer's usage, keys, invoices and alerts
(the customer portal). The store keeps only a SHA-256 hash of each token: a
lost token cannot be shown again; revoke it and make another.
`

func (m *Main) runTokens(ctx context.Context, args []string) error {
	return m.runSubcommand(ctx, "tokens", tokensUsage, args, []subcommand{
		{"create", m.runTokensCreate},
		{"list", m.runTokensList},
		{"revoke", m.runTokensRevoke},
	})
}

func (m *Main) runTokensCreate(ctx context.Context, args []string) error {
	fs := m.newFlagSet("tokens create", "[--customer NAME] [flags]",
		"Makes an API token and prints it, alone, on standard output: an admin token,\n"+
			"or with --customer one that sees only that customer (which must own a key or\n"+
			"be on a plan). Keep it: the store keeps only its hash.")
	var b billingFlags
	b.register(fs)
	customer := fs.String("customer", "", "scope the token to this `customer` (default: an admin token)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: fmt.Sprintf("tokens create: unexpected argument %q", pos[0]), hint: tokensUsage}
	}
	cfg, err := b.load(m.Getenv)
	if err != nil {
		return err
	}
	// A customer on a plan in the billing config may have a token before
	// it has keys; without a billing config, the store decides alone.
	var bc *service.Billing
	if *customer != "" {
		bc, err = cfg.loadBilling(b.billing, m.Getenv)
		if keymeter.ErrorCode(err) == keymeter.ENOTFOUND {
			bc, err = nil, nil
		}
		if err != nil {
			return err
		}
	}
	tok, err := m.service(cfg).CreateToken(ctx, bc, *customer)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(m.Stdout, tok.Secret)
	return err
}

func (m *Main) runTokensList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("tokens list", "[flags]",
		"Lists the tokens, oldest first: ID, customer (empty for an admin token), when\n"+
			"made and when revoked. Never a token or its hash.")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	list, err := m.service(cfg).ListTokens(ctx)
	if err != nil {
		return err
	}
	return report.Tokens(list).Write(m.Stdout, *format)
}

func (m *Main) runTokensRevoke(ctx context.Context, args []string) error {
	fs := m.newFlagSet("tokens revoke", "ID [flags]",
		"Revokes a token, by its ID (tokens list) or the token itself: requests that\n"+
			"carry it are refused (401) from now on. Revoking again changes nothing.")
	var common commonFlags
	common.register(fs, false)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "tokens revoke: want exactly one token ID", hint: tokensUsage}
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	return m.service(cfg).RevokeToken(ctx, pos[0])
}
