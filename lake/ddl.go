package lake

import (
	"fmt"
	"strings"

	"github.com/keymeter/keymeter"
)

// Partition projection ranges of the Athena tables. Days that do not
// exist (February 30) are prefixes without files.
const (
	firstYear = 2020
	lastYear  = 2099
)

// DDL returns the Athena statements that create every lake table over a
// copy of the lake at location, the s3:// URI of its root
// ("s3://bucket/prefix"). Each is a CREATE EXTERNAL TABLE of Parquet
// files with partition projection: year, month and day are string
// partitions projected as integers (month and day with two digits) onto
// storage.location.template, so no partition ever has to be added.
// Trino reads the same tables through a Glue or Hive metastore.
func DDL(location string) (string, error) {
	loc, err := checkLocation(location)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, t := range tables {
		if i > 0 {
			b.WriteString("\n")
		}
		writeTableDDL(&b, t, loc)
	}
	return b.String(), nil
}

// checkLocation returns location without a trailing slash, or an error
// unless it is an s3:// URI that a DDL string literal can hold.
func checkLocation(location string) (string, error) {
	loc := strings.TrimRight(location, "/")
	bucket, _, _ := strings.Cut(strings.TrimPrefix(loc, "s3://"), "/")
	switch {
	case !strings.HasPrefix(loc, "s3://") || bucket == "":
		return "", keymeter.Errorf(keymeter.EINVALID, "lake location %q: want s3://bucket or s3://bucket/prefix", location)
	case strings.ContainsAny(loc, "'\\${}") || strings.ContainsFunc(loc, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "", keymeter.Errorf(keymeter.EINVALID, "lake location %q: quotes, backslashes, $, braces, spaces and control characters are not allowed", location)
	}
	return loc, nil
}

func writeTableDDL(b *strings.Builder, t *Table, loc string) {
	fmt.Fprintf(b, "CREATE EXTERNAL TABLE %s (\n", t.Name)
	for i, c := range t.Columns {
		sep := ","
		if i == len(t.Columns)-1 {
			sep = ""
		}
		fmt.Fprintf(b, "  `%s` %s%s\n", c.Name, c.Kind.Athena(), sep)
	}
	b.WriteString(")\n")
	b.WriteString("PARTITIONED BY (year string, month string, day string)\n")
	b.WriteString("STORED AS PARQUET\n")
	fmt.Fprintf(b, "LOCATION '%s/%s/'\n", loc, t.Name)
	b.WriteString("TBLPROPERTIES (\n")
	b.WriteString("  'projection.enabled'='true',\n")
	fmt.Fprintf(b, "  'projection.year.type'='integer', 'projection.year.range'='%d,%d',\n", firstYear, lastYear)
	b.WriteString("  'projection.month.type'='integer', 'projection.month.range'='1,12', 'projection.month.digits'='2',\n")
	b.WriteString("  'projection.day.type'='integer', 'projection.day.range'='1,31', 'projection.day.digits'='2',\n")
	fmt.Fprintf(b, "  'storage.location.template'='%s/%s/year=${year}/month=${month}/day=${day}/');\n", loc, t.Name)
}
