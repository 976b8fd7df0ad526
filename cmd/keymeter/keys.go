package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

const keysUsage = `Usage:
  keymeter keys import [flags] FILE.csv   assign API keys to customers
  keymeter keys list [flags]              list known keys (fingerprints, never the keys)

FILE.csv has a header line with the column customer and at least one of
api_key (the key clients send, as CloudFront logs it), api_key_id (the ID of
an API Gateway API key, as its access logs show it) and identity (the value of
the identity field configured for API Gateway access logs, for HTTP APIs). A
row may fill any of them: keys on one row belong to the same customer, which
is what links the edge and the origin for keymeter reconcile. A customer may
have several rows. Use - to read standard input. Raw keys are never stored:
keymeter keeps a keyed fingerprint and the last 4 characters. Key IDs and
identities are not secrets and are kept as they are.

An optional column from (or --from) says from which request time on the
row's keys belong to its customer; by default, from the end of the last
finalized billing period of the customers involved. Earlier requests keep
the owner they had, so what was invoiced never changes.
`

func (m *Main) runKeys(ctx context.Context, args []string) error {
	return m.runSubcommand(ctx, "keys", keysUsage, args, []subcommand{
		{"import", m.runKeysImport},
		{"list", m.runKeysList},
	})
}

func (m *Main) runKeysImport(ctx context.Context, args []string) error {
	fs := m.newFlagSet("keys import", "[flags] FILE.csv",
		"Assigns API keys to customers. The CSV needs a header with the column customer\n"+
			"and at least one of api_key, api_key_id (API Gateway) and identity, and may\n"+
			"have a column from. Importing again is harmless; a key listed under another\n"+
			"customer moves to it.\n\n"+
			"An assignment takes effect from a time of the requests: the row's from, else\n"+
			"--from, else the end of the last finalized billing period of the customers\n"+
			"involved (the new one and the key's earlier owners), or the beginning of time\n"+
			"when none has one. Requests before it keep the owner they had. An earlier time\n"+
			"that would change a finalized invoice is refused (status 4) unless --force;\n"+
			"forced, the difference is billed on the customers' next invoices as late lines.")
	var common commonFlags
	common.register(fs, false)
	fromFlag := fs.String("from", "", "`time` the assignments take effect at, for rows without a from: a date (UTC), a month or an RFC 3339 time")
	force := fs.Bool("force", false, "import even assignments that change finalized invoices, billing the difference on the next invoices")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "keys import: want exactly one FILE.csv (or - for standard input)"}
	}
	var from time.Time
	if *fromFlag != "" {
		if from, err = service.ParseInstant(*fromFlag, "--from"); err != nil {
			return err
		}
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	var r io.Reader = m.Stdin
	name := "standard input"
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return keymeter.Errorf(keymeter.EINVALID, "keys import: %v", err)
		}
		defer f.Close()
		r, name = f, pos[0]
	}
	kf, err := service.ReadKeyFile(r, name)
	if err != nil {
		return err
	}
	if len(kf.Trimmed) > 0 {
		fmt.Fprintf(m.Stderr, "keymeter: %s: removed whitespace around values on %s (a key with it would never match)\n", name, lineList(kf.Trimmed))
	}
	res, err := m.service(cfg).ImportKeys(ctx, kf, from, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "imported %d keys: %d added, %d assigned, %d moved to another customer, %d unchanged\n",
		res.Keys, res.Added, res.Assigned, res.Moved, res.Unchanged)
	for _, e := range res.Effective {
		fmt.Fprintf(m.Stdout, "  %s\n", e)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(m.Stderr, "keymeter: %s\n", w)
	}
	return nil
}

// lineList writes line numbers for people: "line 3", "lines 2, 5 and 9",
// the first ten of many and how many more.
func lineList(lines []int) string {
	if len(lines) == 1 {
		return fmt.Sprintf("line %d", lines[0])
	}
	var parts []string
	for i, l := range lines {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("%d more", len(lines)-10))
			break
		}
		parts = append(parts, fmt.Sprint(l))
	}
	return "lines " + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func (m *Main) runKeysList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("keys list", "[flags]",
		"Lists the API keys keymeter knows: imported ones and ones seen in logs, by\n"+
			"fingerprint and hint (the last 4 characters), never the key itself. API Gateway\n"+
			"key IDs and identities are listed as they are, as apikeyid:ID and identity:VALUE.\n"+
			"A key that changed owners is listed once per owner, with the span [from, until)\n"+
			"of request time it was theirs and the requests of that span (null: unbounded).")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	unassigned := fs.Bool("unassigned", false, "list only keys, or spans of time, that no customer owns")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	keys, err := m.service(cfg).ListKeys(ctx, *unassigned)
	if err != nil {
		return err
	}
	return report.Keys(keys).Write(m.Stdout, *format)
}
