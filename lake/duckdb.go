package lake

import (
	"strings"

	"github.com/keymeter/keymeter"
)

// ReadSQL returns a DuckDB query that reads table t from files (their
// Locations), with the columns and types the Athena DDL declares, then
// the partition columns year, month and day as strings. DuckDB skips the
// files of partitions a query's WHERE excludes (year = '2025' AND
// month = '10') without reading them; it only reads the footer of the
// first file, to bind the query. With no files, the query has the same
// columns and no rows.
//
// DuckDB reads a TIMESTAMP that Parquet marks as adjusted to UTC as a
// TIMESTAMP WITH TIME ZONE; the query turns it back into the UTC
// TIMESTAMP it is, whatever the session's time zone.
func ReadSQL(t *Table, files []string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, c := range t.Columns {
		name := quoteIdent(c.Name)
		switch {
		case len(files) == 0:
			b.WriteString("CAST(NULL AS " + c.Kind.DuckDB() + ") AS " + name)
		case c.Kind == Timestamp:
			b.WriteString("timezone('UTC', " + name + ") AS " + name)
		default:
			b.WriteString(name)
		}
		b.WriteString(", ")
	}
	for i, p := range partitionColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		if len(files) == 0 {
			b.WriteString("CAST(NULL AS VARCHAR) AS ")
		}
		b.WriteString(p)
	}
	if len(files) == 0 {
		b.WriteString(" WHERE false")
		return b.String()
	}
	b.WriteString(" FROM read_parquet([")
	for i, f := range files {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteString(f))
	}
	b.WriteString("], hive_partitioning = true, hive_types = {")
	for i, p := range partitionColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + p + "': VARCHAR")
	}
	b.WriteString("})")
	return b.String()
}

// EntryFiles returns the Locations in root of the entries of table t, and
// an error if an entry belongs to another table.
func EntryFiles(t *Table, root Root, entries []Entry) ([]string, error) {
	files := make([]string, len(entries))
	for i, e := range entries {
		if e.Table != t.Name {
			return nil, keymeter.Errorf(keymeter.EINVALID, "lake file %s belongs to table %s, not %s", e.Path, e.Table, t.Name)
		}
		files[i] = root.Location(e.Path)
	}
	return files, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
