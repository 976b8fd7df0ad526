package main

import (
	"bytes"
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
		if from, err = parseInstant(*fromFlag, "--from"); err != nil {
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
	rows, trimmed, err := readKeyCSV(r, name)
	if err != nil {
		return err
	}
	if len(trimmed) > 0 {
		fmt.Fprintf(m.Stderr, "keymeter: %s: removed whitespace around values on %s (a key with it would never match)\n", name, lineList(trimmed))
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
	var assign []pendingAssignment
	for _, row := range rows {
		at, explicit := row.from, !row.from.IsZero()
		if !explicit && !from.IsZero() {
			at, explicit = from, true
		}
		add := func(k keymeter.KeyFingerprint, column string) {
			assign = append(assign, pendingAssignment{KeyAssignment: keymeter.KeyAssignment{KeyFingerprint: k, Customer: row.customer, From: at},
				explicit: explicit, line: row.line, column: column})
		}
		if row.key != "" {
			add(fp.Fingerprint([]byte(row.key)), "api_key")
		}
		if row.keyID != "" {
			add(keymeter.OriginIdentity(keymeter.IdentityAPIKeyID, []byte(row.keyID)), "api_key_id")
		}
		if row.identity != "" {
			add(keymeter.OriginIdentity(keymeter.IdentityCaller, []byte(row.identity)), "identity")
		}
	}
	plan, err := planAssignments(ctx, db, assign)
	if err != nil {
		return err
	}
	if len(plan.conflicts) > 0 && !*force {
		return keymeter.Errorf(keymeter.ECONFLICT, "%s: nothing imported: %s", name, plan.describeConflicts(
			"give a later from, or --force to bill the difference on the customers' next invoices"))
	}
	keys := make([]keymeter.KeyAssignment, len(assign))
	for i, a := range assign {
		keys[i] = a.KeyAssignment
	}
	res, err := db.ImportKeys(ctx, keys)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "imported %d keys: %d added, %d assigned, %d moved to another customer, %d unchanged\n",
		len(assign), res.Added, res.Assigned, res.Moved, res.Unchanged)
	for _, e := range plan.effective() {
		fmt.Fprintf(m.Stdout, "  %s\n", e)
	}
	if len(plan.conflicts) > 0 {
		fmt.Fprintf(m.Stderr, "keymeter: --force: imported; %s\n", plan.describeConflicts("the difference is billed on the customers' next invoices as late lines"))
	}
	return nil
}

type keyRow struct {
	customer string
	key      string // api_key: a secret
	keyID    string // api_key_id
	identity string
	from     time.Time // zero when the row has none
	line     int
}

// keyColumns are the columns of a key file that name a key, in the
// order of keyRow's members.
var keyColumns = []string{"api_key", "api_key_id", "identity"}

// readKeyCSV reads and checks a key file, reporting every problem at once.
// Whitespace around values is removed, and the lines that had some are
// returned. Problems name lines, never keys.
func readKeyCSV(r io.Reader, name string) ([]keyRow, []int, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, keymeter.Errorf(keymeter.EINVALID, "%s: %v", name, err)
	}
	lines := bytes.Split(data, []byte("\n"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	// spaced reports whether field i of the record just read had
	// whitespace around it (the reader drops leading spaces itself).
	spaced := func(rec []string, i int) bool {
		if strings.TrimSpace(rec[i]) != rec[i] {
			return true
		}
		line, col := cr.FieldPos(i)
		if line < 1 || line > len(lines) || col < 2 || col-2 >= len(lines[line-1]) {
			return false
		}
		c := lines[line-1][col-2]
		return c == ' ' || c == '\t'
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, keymeter.Errorf(keymeter.EINVALID, "%s: empty file: want a header line customer,api_key (or api_key_id, identity)", name)
	}
	if err != nil {
		return nil, nil, keymeter.Errorf(keymeter.EINVALID, "%s: %v", name, err)
	}
	col := map[string]int{}
	var problems []string
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "customer", "api_key", "api_key_id", "identity", "from":
			if _, dup := col[h]; dup {
				problems = append(problems, fmt.Sprintf("line 1: column %q appears twice", h))
			}
			col[h] = i
		default:
			problems = append(problems, fmt.Sprintf("line 1: unknown column %q (want customer, api_key, api_key_id, identity or from)", h))
		}
	}
	if _, ok := col["customer"]; !ok {
		problems = append(problems, `line 1: missing column "customer"`)
	}
	if !slices.ContainsFunc(keyColumns, func(c string) bool { _, ok := col[c]; return ok }) {
		problems = append(problems, `line 1: missing column "api_key" (or "api_key_id", "identity")`)
	}
	if len(problems) > 0 {
		return nil, nil, keymeter.Errorf(keymeter.EINVALID, "%s:\n  %s", name, strings.Join(problems, "\n  "))
	}
	field := func(rec []string, c string) string {
		if i, ok := col[c]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []keyRow
	var trimmed []int
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
			return nil, nil, keymeter.Errorf(keymeter.EINVALID, "%s: %v", name, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			problems = append(problems, fmt.Sprintf("line %d: %d fields, the header has %d", line, len(rec), len(header)))
			continue
		}
		for i := range rec {
			if spaced(rec, i) {
				trimmed = append(trimmed, line)
				break
			}
		}
		row := keyRow{customer: field(rec, "customer"), key: field(rec, "api_key"), keyID: field(rec, "api_key_id"),
			identity: field(rec, "identity"), line: line}
		if v := field(rec, "from"); v != "" {
			t, err := parseInstant(v, "from")
			if err != nil {
				problems = append(problems, fmt.Sprintf("line %d: %v", line, err))
				continue
			}
			row.from = t
		}
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
			if prev, seen := owners[c][v]; seen && (prev.customer != row.customer || !prev.from.Equal(row.from)) {
				problems = append(problems, fmt.Sprintf("line %d: the same %s as line %d, for another customer or from another time", line, c, prev.line))
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
		return nil, nil, keymeter.Errorf(keymeter.EINVALID, "%s: nothing imported:\n  %s", name, strings.Join(problems, "\n  "))
	}
	if len(rows) == 0 {
		return nil, nil, keymeter.Errorf(keymeter.EINVALID, "%s: no keys below the header", name)
	}
	return rows, trimmed, nil
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
			"key IDs and identities are listed as they are, as apikeyid:ID and identity:VALUE.\n"+
			"A key that changed owners is listed once per owner, with the span [from, until)\n"+
			"of request time it was theirs and the requests of that span (null: unbounded).")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	unassigned := fs.Bool("unassigned", false, "list only keys, or spans of time, that no customer owns")
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
	res := &result{cols: []string{"customer", "fingerprint", "hint", "requests", "last_seen", "from", "until"}}
	stamp := func(t time.Time) cell {
		if t.IsZero() {
			return nullCell()
		}
		return textCell(t.Format(time.RFC3339Nano))
	}
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
		res.rows = append(res.rows, []cell{optText(k.Customer, k.Customer == ""), textCell(k.Fingerprint), hint, intCell(k.Requests), last,
			stamp(k.From), stamp(k.Until)})
	}
	return res.write(m.Stdout, *format)
}
