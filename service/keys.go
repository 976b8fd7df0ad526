package service

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

// KeyFile is a key file read and checked: which keys belong to which
// customers, from when (see ReadKeyFile).
type KeyFile struct {
	// Name names the file in messages ("keys.csv", "standard input").
	Name string
	// Trimmed are the lines that had whitespace around values, which
	// was removed (a key with it would never match).
	Trimmed []int
	rows    []keyRow
}

// ReadKeyFile reads a key file: CSV with a header line naming the
// column customer, at least one of api_key (the key clients send),
// api_key_id (an API Gateway API key's ID) and identity (the identity
// field of API Gateway access logs), and optionally from (the time the
// row's keys take effect at). It returns an EINVALID error listing every
// problem at once, by line, never showing a key.
func ReadKeyFile(r io.Reader, name string) (*KeyFile, error) {
	rows, trimmed, err := readKeyCSV(r, name)
	if err != nil {
		return nil, err
	}
	return &KeyFile{Name: name, Trimmed: trimmed, rows: rows}, nil
}

// KeyImportReport is what importing a key file did.
type KeyImportReport struct {
	// Keys counts the keys of the file (a row may name several).
	Keys int
	keymeter.KeyImport
	// Effective says when the assignments given no time take effect:
	// after the last finalized billing period of their customers.
	Effective []string
	// Warnings say which finalized invoices a forced import changes.
	Warnings []string
}

// ImportKeys assigns the keys of f to their customers, in one
// transaction, each from its row's from, else from (when not zero), else
// the end of the last finalized billing period of the customers
// involved (the new one and the key's earlier owners), or the beginning
// of time when none has one. Raw keys are fingerprinted with the secret
// (Secret) and never stored. An assignment that would change a
// finalized invoice is refused with an ECONFLICT error, and nothing is
// imported, unless force: forced, the difference is billed on the
// customers' next invoices, and the report's Warnings say so.
func (s *Service) ImportKeys(ctx context.Context, f *KeyFile, from time.Time, force bool) (_ *KeyImportReport, err error) {
	st, err := s.open(ctx, Write)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	secret, err := s.Secret(ctx, st.Secrets)
	if err != nil {
		return nil, err
	}
	fp := keymeter.NewFingerprinter(secret)
	var assign []pendingAssignment
	for _, row := range f.rows {
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
	plan, err := planAssignments(ctx, struct {
		keymeter.KeyStore
		keymeter.InvoiceStore
	}{st.Keys, st.Invoices}, assign)
	if err != nil {
		return nil, err
	}
	if len(plan.conflicts) > 0 && !force {
		return nil, keymeter.Errorf(keymeter.ECONFLICT, "%s: nothing imported: %s", f.Name, plan.describeConflicts(
			"give a later from, or --force to bill the difference on the customers' next invoices"))
	}
	keys := make([]keymeter.KeyAssignment, len(assign))
	for i, a := range assign {
		keys[i] = a.KeyAssignment
	}
	res, err := st.Keys.ImportKeys(ctx, keys)
	if err != nil {
		return nil, err
	}
	r := &KeyImportReport{Keys: len(assign), KeyImport: res, Effective: plan.effective()}
	if len(plan.conflicts) > 0 {
		r.Warnings = append(r.Warnings, "--force: imported; "+plan.describeConflicts("the difference is billed on the customers' next invoices as late lines"))
	}
	return r, nil
}

// ListKeys returns the keys keymeter knows, once per owner span (see
// keymeter.KeyStore.ListKeys); with unassigned, only the keys, or spans
// of time, that no customer owns. It returns Open's errors.
func (s *Service) ListKeys(ctx context.Context, unassigned bool) (_ []keymeter.Key, err error) {
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	keys, err := st.Keys.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	if !unassigned {
		return keys, nil
	}
	var out []keymeter.Key
	for _, k := range keys {
		if k.Customer == "" {
			out = append(out, k)
		}
	}
	return out, nil
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
			t, err := ParseInstant(v, "from")
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
