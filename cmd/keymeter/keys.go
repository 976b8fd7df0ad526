package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

const keysUsage = `Usage:
  keymeter keys import [flags] FILE.csv   assign API keys to customers
  keymeter keys list [flags]              list known keys (fingerprints, never the keys)

FILE.csv has a header line with the columns customer and api_key, one key per
line; a customer may own several keys. Use - to read standard input. Raw keys
are never stored: keymeter keeps a keyed fingerprint and the last 4 characters.
`

func (m *Main) runKeys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, keysUsage)
		return &usageError{msg: "keys: no subcommand given (want import or list)"}
	}
	switch args[0] {
	case "import":
		return m.runKeysImport(ctx, args[1:])
	case "list":
		return m.runKeysList(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(m.Stdout, keysUsage)
		return nil
	}
	return &usageError{msg: fmt.Sprintf("keys: unknown subcommand %q (want import or list)", args[0])}
}

func (m *Main) runKeysImport(ctx context.Context, args []string) error {
	fs := m.newFlagSet("keys import", "[flags] FILE.csv",
		"Assigns API keys to customers. The CSV needs a header with the columns\n"+
			"customer and api_key. Importing again is harmless; a key listed under another\n"+
			"customer moves to it.")
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
	assign := make([]keymeter.KeyAssignment, len(rows))
	for i, row := range rows {
		assign[i] = keymeter.KeyAssignment{KeyFingerprint: fp.Fingerprint([]byte(row.key)), Customer: row.customer}
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
	customer, key string
	line          int
}

// readKeyCSV reads and checks a key file, reporting every problem at once.
// Problems name lines, never keys.
func readKeyCSV(r io.Reader, name string) ([]keyRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s: empty file: want a header line customer,api_key", name)
	}
	if err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s: %v", name, err)
	}
	col := map[string]int{}
	var problems []string
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "customer", "api_key":
			col[h] = i
		default:
			problems = append(problems, fmt.Sprintf("line 1: unknown column %q (want customer and api_key)", h))
		}
	}
	for _, c := range []string{"customer", "api_key"} {
		if _, ok := col[c]; !ok {
			problems = append(problems, fmt.Sprintf("line 1: missing column %q", c))
		}
	}
	if len(problems) > 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s:\n  %s", name, strings.Join(problems, "\n  "))
	}
	var rows []keyRow
	owner := map[string]keyRow{}
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
		row := keyRow{customer: strings.TrimSpace(rec[col["customer"]]), key: strings.TrimSpace(rec[col["api_key"]]), line: line}
		switch {
		case row.customer == "":
			problems = append(problems, fmt.Sprintf("line %d: empty customer", line))
			continue
		case row.key == "":
			problems = append(problems, fmt.Sprintf("line %d: empty api_key", line))
			continue
		}
		if prev, ok := owner[row.key]; ok {
			if prev.customer != row.customer {
				problems = append(problems, fmt.Sprintf("line %d: the same api_key as line %d, for another customer", line, prev.line))
			}
			continue
		}
		owner[row.key] = row
		rows = append(rows, row)
	}
	if len(problems) > 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s: nothing imported:\n  %s", name, strings.Join(problems, "\n  "))
	}
	if len(rows) == 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s: no keys below the header", name)
	}
	return rows, nil
}

func (m *Main) runKeysList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("keys list", "[flags]",
		"Lists the API keys keymeter knows: imported ones and ones seen in logs, by\n"+
			"fingerprint and hint (the last 4 characters), never the key itself.")
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
