package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
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
			"and at least one of api_key, api_key_id (API Gateway) and identity. Importing\n"+
			"again is harmless; a key listed under another customer moves to it.")
	var common commonFlags
	common.register(fs, false)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "keys import: want exactly one FILE.csv (or - for standard input)"}
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
	rows, err := readKeyCSV(r, name)
	if err != nil {
		return err
	}
	db, err := cfg.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := cfg.secret(ctx, db)
	if err != nil {
		return err
	}
	fp := keymeter.NewFingerprinter(secret)
	var assign []keymeter.KeyAssignment
	for _, row := range rows {
		if row.key != "" {
			assign = append(assign, keymeter.KeyAssignment{KeyFingerprint: fp.Fingerprint([]byte(row.key)), Customer: row.customer})
		}
		if row.keyID != "" {
			id := keymeter.OriginIdentity(keymeter.IdentityAPIKeyID, []byte(row.keyID))
			assign = append(assign, keymeter.KeyAssignment{KeyFingerprint: id, Customer: row.customer})
		}
		if row.identity != "" {
			id := keymeter.OriginIdentity(keymeter.IdentityCaller, []byte(row.identity))
			assign = append(assign, keymeter.KeyAssignment{KeyFingerprint: id, Customer: row.customer})
		}
	}
	res, err := db.ImportKeys(ctx, assign)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "imported %d keys: %d added, %d assigned, %d moved to another customer, %d unchanged\n",
		len(assign), res.Added, res.Assigned, res.Moved, res.Unchanged)
	return nil
}

type keyRow struct {
	customer string
	key      string // api_key: a secret
	keyID    string // api_key_id
	identity string
	line     int
}

// keyColumns are the columns of a key file that name a key, in the
// order of keyRow's members.
var keyColumns = []string{"api_key", "api_key_id", "identity"}

// readKeyCSV reads and checks a key file, reporting every problem at once.
// Problems name lines, never keys.
func readKeyCSV(r io.Reader, name string) ([]keyRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s: empty file: want a header line customer,api_key (or api_key_id, identity)", name)
	}
	if err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s: %v", name, err)
	}
	col := map[string]int{}
	var problems []string
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "customer", "api_key", "api_key_id", "identity":
			if _, dup := col[h]; dup {
				problems = append(problems, fmt.Sprintf("line 1: column %q appears twice", h))
			}
			col[h] = i
		default:
			problems = append(problems, fmt.Sprintf("line 1: unknown column %q (want customer, api_key, api_key_id or identity)", h))
		}
	}
	if _, ok := col["customer"]; !ok {
		problems = append(problems, `line 1: missing column "customer"`)
	}
	if !slices.ContainsFunc(keyColumns, func(c string) bool { _, ok := col[c]; return ok }) {
		problems = append(problems, `line 1: missing column "api_key" (or "api_key_id", "identity")`)
	}
	if len(problems) > 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s:\n  %s", name, strings.Join(problems, "\n  "))
	}
	field := func(rec []string, c string) string {
		if i, ok := col[c]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []keyRow
	owners := map[string]map[string]keyRow{} // per key column: value to first row
	for _, c := range keyColumns {
		owners[c] = map[string]keyRow{}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				problems = append(problems, fmt.Sprintf("line %d: %v", pe.Line, pe.Err))
				continue
			}
			return nil, keymeter.Errorf(keymeter.EINVALID, "%s: %v", name, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			problems = append(problems, fmt.Sprintf("line %d: %d fields, the header has %d", line, len(rec), len(header)))
			continue
		}
		row := keyRow{customer: field(rec, "customer"), key: field(rec, "api_key"), keyID: field(rec, "api_key_id"),
			identity: field(rec, "identity"), line: line}
		values := []string{row.key, row.keyID, row.identity}
		switch {
		case row.customer == "":
			problems = append(problems, fmt.Sprintf("line %d: empty customer", line))
			continue
		case keymeter.CheckText("customer name", row.customer) != nil:
			problems = append(problems, fmt.Sprintf("line %d: %v", line, keymeter.CheckText("customer name", row.customer)))
			continue
		case row.key == "" && row.keyID == "" && row.identity == "":
			problems = append(problems, fmt.Sprintf("line %d: no %s", line, strings.Join(presentKeyColumns(col), " or ")))
			continue
		}
		ok := true
		for i, c := range keyColumns {
			v := values[i]
			if v == "" {
				continue
			}
			if prev, seen := owners[c][v]; seen && prev.customer != row.customer {
				problems = append(problems, fmt.Sprintf("line %d: the same %s as line %d, for another customer", line, c, prev.line))
				ok = false
			} else if !seen {
				owners[c][v] = row
			} else {
				values[i] = "" // listed before for the same customer
			}
		}
		if ok {
			row.key, row.keyID, row.identity = values[0], values[1], values[2]
			if row.key != "" || row.keyID != "" || row.identity != "" {
				rows = append(rows, row)
			}
		}
	}
	if len(problems) > 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s: nothing imported:\n  %s", name, strings.Join(problems, "\n  "))
	}
	if len(rows) == 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s: no keys below the header", name)
	}
	return rows, nil
}

// presentKeyColumns lists the key columns a header has.
func presentKeyColumns(col map[string]int) []string {
	var out []string
	for _, c := range keyColumns {
		if _, ok := col[c]; ok {
			out = append(out, c)
		}
	}
	return out
}

func (m *Main) runKeysList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("keys list", "[flags]",
		"Lists the API keys keymeter knows: imported ones and ones seen in logs, by\n"+
			"fingerprint and hint (the last 4 characters), never the key itself. API Gateway\n"+
			"key IDs and identities are listed as they are, as apikeyid:ID and identity:VALUE.")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	unassigned := fs.Bool("unassigned", false, "list only keys seen in logs that no customer owns")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	db, err := m.openReadOnly(ctx, &common)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := db.ListKeys(ctx)
	if err != nil {
		return err
	}
	res := &result{cols: []string{"customer", "fingerprint", "hint", "requests", "last_seen"}}
	for _, k := range keys {
		if *unassigned && k.Customer != "" {
			continue
		}
		hint := nullCell()
		if k.Hint != "" {
			hint = textCell("…" + k.Hint)
		}
		last := nullCell()
		if !k.LastSeen.IsZero() {
			last = textCell(k.LastSeen.Format(time.RFC3339))
		}
		res.rows = append(res.rows, []cell{optText(k.Customer, k.Customer == ""), textCell(k.Fingerprint), hint, intCell(k.Requests), last})
	}
	return res.write(m.Stdout, *format)
}
