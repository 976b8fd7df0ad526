package lake_test

import (
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/lake"
)

func TestDDL(t *testing.T) {
	ddl, err := lake.DDL("s3://amzn-s3-demo-bucket/keymeter/lake/")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "ddl.golden", []byte(ddl))

	// The same lake without the trailing slash.
	if again, err := lake.DDL("s3://amzn-s3-demo-bucket/keymeter/lake"); err != nil || again != ddl {
		t.Errorf("DDL depends on a trailing slash: %v", err)
	}
	// A statement per table, each with the table's columns and types.
	declared := ddlColumns(t, ddl)
	if len(declared) != len(lake.Tables()) {
		t.Fatalf("DDL declares %d tables, want %d", len(declared), len(lake.Tables()))
	}
	for _, tb := range lake.Tables() {
		cols := declared[tb.Name]
		if len(cols) != len(tb.Columns) {
			t.Fatalf("%s: %d columns declared, the table has %d", tb.Name, len(cols), len(tb.Columns))
		}
		for i, c := range tb.Columns {
			if cols[i] != [2]string{c.Name, c.Kind.Athena()} {
				t.Errorf("%s column %d declared %v, want %s %s", tb.Name, i, cols[i], c.Name, c.Kind.Athena())
			}
		}
		template := "'storage.location.template'='s3://amzn-s3-demo-bucket/keymeter/lake/" + tb.Name + "/year=${year}/month=${month}/day=${day}/');"
		if !strings.Contains(ddl, template) {
			t.Errorf("%s: no %s", tb.Name, template)
		}
	}
}

// TestStandardColumns checks cloudfront_logs against the column names
// and types of AWS's Athena table for standard logs
// (create-cloudfront-table-standard-logs.html), where keymeter keeps them.
func TestStandardColumns(t *testing.T) {
	aws := "`date` DATE, time STRING, x_edge_location STRING, sc_bytes BIGINT, c_ip STRING, cs_method STRING, " +
		"cs_host STRING, cs_uri_stem STRING, sc_status INT, cs_referrer STRING, cs_user_agent STRING, " +
		"cs_uri_query STRING, cs_cookie STRING, x_edge_result_type STRING, x_edge_request_id STRING, " +
		"x_host_header STRING, cs_protocol STRING, cs_bytes BIGINT, time_taken FLOAT, x_forwarded_for STRING, " +
		"ssl_protocol STRING, ssl_cipher STRING, x_edge_response_result_type STRING, cs_protocol_version STRING, " +
		"fle_status STRING, fle_encrypted_fields INT, c_port INT, time_to_first_byte FLOAT, " +
		"x_edge_detailed_result_type STRING, sc_content_type STRING, sc_content_len BIGINT, " +
		"sc_range_start BIGINT, sc_range_end BIGINT"
	// Seconds are doubles, as keymeter's view has them (see CloudFrontLogs).
	widened := map[string]string{"time_taken": "double", "time_to_first_byte": "double"}
	cols := lake.CloudFrontLogs.Columns
	for i, spec := range strings.Split(aws, ", ") {
		name, typ, _ := strings.Cut(strings.Trim(spec, "`"), " ")
		name = strings.Trim(name, "`")
		want := strings.ToLower(typ)
		if w, ok := widened[name]; ok {
			want = w
		}
		if cols[i].Name != name || cols[i].Kind.Athena() != want {
			t.Errorf("column %d is %s %s, want %s %s", i, cols[i].Name, cols[i].Kind.Athena(), name, want)
		}
	}
	var own []string
	for _, c := range cols[33:] {
		own = append(own, c.Name)
	}
	if got := strings.Join(own, " "); got != "customer api_key attribution object loaded_at" {
		t.Errorf("keymeter's columns: %s", got)
	}
}

func TestDDLBadLocation(t *testing.T) {
	for _, loc := range []string{"", "s3://", "s3:///x", "/srv/lake", "https://bucket/x", "s3://b/it's", "s3://b/a b", "s3://b/${year}", "s3://b/x\n"} {
		if _, err := lake.DDL(loc); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("DDL(%q): %v, want an invalid-input error", loc, err)
		}
	}
}
