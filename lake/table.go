package lake

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/keymeter/keymeter"
)

// Kind is the type of a lake column. Each kind has one Athena type, one
// Parquet type and one DuckDB type, so that the files, the Athena DDL and
// the DuckDB SQL that reads them agree.
type Kind uint8

// Column kinds.
const (
	String    Kind = iota + 1 // Athena string; Parquet BYTE_ARRAY (STRING); DuckDB VARCHAR
	Int                       // Athena int; Parquet INT32; DuckDB INTEGER
	BigInt                    // Athena bigint; Parquet INT64; DuckDB BIGINT
	Double                    // Athena double; Parquet DOUBLE; DuckDB DOUBLE
	Date                      // Athena date; Parquet INT32 (DATE); DuckDB DATE
	Timestamp                 // Athena timestamp; Parquet INT64 TIMESTAMP(MICROS, isAdjustedToUTC); DuckDB TIMESTAMP
)

var kindNames = [...]struct{ athena, duckdb string }{
	String:    {"string", "VARCHAR"},
	Int:       {"int", "INTEGER"},
	BigInt:    {"bigint", "BIGINT"},
	Double:    {"double", "DOUBLE"},
	Date:      {"date", "DATE"},
	Timestamp: {"timestamp", "TIMESTAMP"},
}

// Athena returns the kind's type name in Athena (Hive DDL) and Trino.
func (k Kind) Athena() string { return kindNames[k].athena }

// DuckDB returns the kind's type name in DuckDB.
func (k Kind) DuckDB() string { return kindNames[k].duckdb }

// Column is one column of a lake table.
type Column struct {
	Name string
	Kind Kind
	// Nullable columns hold NULL where the log had no value; the others
	// always have one (a string column holds "-", as logged, when the log
	// said "-" or lacked the field).
	Nullable bool
	// Dict columns are dictionary-encoded: strings that repeat (hosts,
	// paths, user agents, customers).
	Dict bool
	// NoBounds columns have no min/max statistics: free text and unique
	// IDs, whose bounds would never skip a page, cost time to compute.
	NoBounds bool
}

// Table is one lake table: a kind of log, its columns and how an event
// fills them.
type Table struct {
	// Name is the table's name, in SQL and in the lake's layout.
	Name    string
	Source  keymeter.Source
	Columns []Column
	schema  *parquet.Schema
	fill    func(r *rowBuilder, ev *keymeter.Event, f *Facts)
}

// Schema returns the Parquet schema of the table's files.
func (t *Table) Schema() *parquet.Schema { return t.schema }

// Partition columns: every table is partitioned by the UTC date of its
// events, as strings, year=YYYY/month=MM/day=DD. They are in the paths,
// not in the files.
var partitionColumns = [...]string{"year", "month", "day"}

// keymeterColumns are keymeter's own columns, at the end of every table:
// the customer that owned the key when the event was written, the key's
// fingerprint (never the key), how the request was attributed, the object
// it was read from and when it was loaded. The request's ID is the log's
// own column (x_edge_request_id, request_id): its 128-bit hash, the
// store's dedupe key, would cost 16 bytes a row that nothing reads.
func keymeterColumns(key bool) []Column {
	var cols []Column
	if key {
		cols = append(cols,
			Column{Name: "customer", Kind: String, Nullable: true, Dict: true},
			Column{Name: "api_key", Kind: String, Nullable: true, Dict: true},
		)
	}
	return append(cols,
		Column{Name: "attribution", Kind: String, Dict: true},
		Column{Name: "object", Kind: String, Dict: true},
		Column{Name: "loaded_at", Kind: Timestamp},
	)
}

// str, opt and so on shorten the column lists below.
func str(name string) Column      { return Column{Name: name, Kind: String, Dict: true} }
func strPlain(name string) Column { return Column{Name: name, Kind: String, NoBounds: true} }
func text(name string) Column     { return Column{Name: name, Kind: String, Dict: true, NoBounds: true} }
func optStr(name string) Column   { return Column{Name: name, Kind: String, Nullable: true, Dict: true} }
func opt(name string, k Kind) Column {
	return Column{Name: name, Kind: k, Nullable: true}
}

// optDict is a nullable number of few distinct values (durations in
// milliseconds, ports, request sizes): its dictionary indices take fewer
// bits than the compressed values.
func optDict(name string, k Kind) Column {
	return Column{Name: name, Kind: k, Nullable: true, Dict: true}
}

// CloudFrontLogs is the table of CloudFront standard logs. Its columns
// are those of AWS's Athena table for them
// (https://docs.aws.amazon.com/athena/latest/ug/create-cloudfront-table-standard-logs.html),
// with the values of keymeter's cloudfront_logs view, except that
// time_taken and time_to_first_byte are double, not float: seconds as a
// double are what the view has always answered, and a 32-bit float
// changes the 8th digit of an average. The API key in cs_uri_query (and
// anywhere else) is already its fingerprint.
var CloudFrontLogs = newTable("cloudfront_logs", keymeter.SourceCloudFront, append([]Column{
	{Name: "date", Kind: Date},
	str("time"),
	str("x_edge_location"),
	opt("sc_bytes", BigInt),
	text("c_ip"),
	str("cs_method"),
	str("cs_host"),
	str("cs_uri_stem"),
	opt("sc_status", Int),
	text("cs_referrer"),
	text("cs_user_agent"),
	text("cs_uri_query"),
	text("cs_cookie"),
	str("x_edge_result_type"),
	strPlain("x_edge_request_id"),
	str("x_host_header"),
	str("cs_protocol"),
	optDict("cs_bytes", BigInt),
	optDict("time_taken", Double),
	text("x_forwarded_for"),
	str("ssl_protocol"),
	str("ssl_cipher"),
	str("x_edge_response_result_type"),
	str("cs_protocol_version"),
	str("fle_status"),
	opt("fle_encrypted_fields", Int),
	optDict("c_port", Int),
	optDict("time_to_first_byte", Double),
	str("x_edge_detailed_result_type"),
	str("sc_content_type"),
	opt("sc_content_len", BigInt),
	opt("sc_range_start", BigInt),
	opt("sc_range_end", BigInt),
}, keymeterColumns(true)...), fillCloudFront)

// CloudFrontRealTimeLogs is the table of CloudFront real-time logs, named
// and laid out after AWS's Athena table for them
// (https://docs.aws.amazon.com/athena/latest/ug/create-cloudfront-table-real-time-logs.html),
// with the values of keymeter's cloudfront_realtime_logs view: AWS
// declares time_to_first_byte and time_taken bigint, which cannot hold
// their values (0.253); they are double seconds here. s_ip follows asn.
var CloudFrontRealTimeLogs = newTable("cloudfront_real_time_logs", keymeter.SourceCloudFrontRealtime, append([]Column{
	strPlain("timestamp"),
	text("c_ip"),
	opt("time_to_first_byte", Double),
	opt("sc_status", BigInt),
	opt("sc_bytes", BigInt),
	str("cs_method"),
	str("cs_protocol"),
	str("cs_host"),
	str("cs_uri_stem"),
	opt("cs_bytes", BigInt),
	str("x_edge_location"),
	strPlain("x_edge_request_id"),
	str("x_host_header"),
	opt("time_taken", Double),
	str("cs_protocol_version"),
	str("c_ip_version"),
	text("cs_user_agent"),
	text("cs_referer"),
	text("cs_cookie"),
	text("cs_uri_query"),
	str("x_edge_response_result_type"),
	text("x_forwarded_for"),
	str("ssl_protocol"),
	str("ssl_cipher"),
	str("x_edge_result_type"),
	optStr("fle_encrypted_fields"),
	str("fle_status"),
	str("sc_content_type"),
	opt("sc_content_len", BigInt),
	optStr("sc_range_start"),
	optStr("sc_range_end"),
	opt("c_port", BigInt),
	str("x_edge_detailed_result_type"),
	str("c_country"),
	str("cs_accept_encoding"),
	str("cs_accept"),
	str("cache_behavior_path_pattern"),
	strPlain("cs_headers"),
	text("cs_header_names"),
	opt("cs_headers_count", BigInt),
	str("primary_distribution_id"),
	str("primary_distribution_dns_name"),
	str("origin_fbl"),
	str("origin_lbl"),
	str("asn"),
	str("s_ip"),
}, keymeterColumns(true)...), fillRealTime)

// APIGatewayLogs is the table of API Gateway access logs. AWS has no
// Athena table for them; the columns are those of keymeter's
// apigateway_logs view, named after the $context variables they come
// from. The caller a request was attributed to is in api_key_id (REST
// API keys), identity (the operator's identity field) or api_key (the
// fingerprint of a logged API key): one of them, or none when
// unattributed. Strings are NULL where the log said "-".
var APIGatewayLogs = newTable("apigateway_logs", keymeter.SourceAPIGateway, append([]Column{
	{Name: "request_time", Kind: Timestamp},
	strPlain("request_id"),
	{Name: "api_request_id", Kind: String, Nullable: true, NoBounds: true},
	{Name: "source_ip", Kind: String, Nullable: true, Dict: true, NoBounds: true},
	optStr("api_key_id"),
	optStr("identity"),
	optStr("api_key"),
	optStr("customer"),
	optStr("http_method"),
	optStr("path"),
	optStr("resource_path"),
	optStr("route_key"),
	optStr("stage"),
	optStr("api_id"),
	optStr("domain_name"),
	optStr("protocol"),
	opt("status", Int),
	opt("response_length", BigInt),
	opt("response_latency_ms", Int),
	{Name: "user_agent", Kind: String, Nullable: true, Dict: true, NoBounds: true},
}, keymeterColumns(false)...), fillAPIGateway)

var tables = []*Table{CloudFrontLogs, CloudFrontRealTimeLogs, APIGatewayLogs}

// Tables returns every lake table, in a stable order.
func Tables() []*Table { return append([]*Table(nil), tables...) }

// TableOf returns the table of events of source s.
func TableOf(s keymeter.Source) (*Table, error) {
	for _, t := range tables {
		if t.Source == s {
			return t, nil
		}
	}
	return nil, keymeter.Errorf(keymeter.EINVALID, "no lake table for events of source %s", s)
}

// TableNamed returns the table called name.
func TableNamed(name string) (*Table, error) {
	for _, t := range tables {
		if t.Name == name {
			return t, nil
		}
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	return nil, keymeter.Errorf(keymeter.EINVALID, "no lake table %q (there are %s)", name, strings.Join(names, ", "))
}

func newTable(name string, src keymeter.Source, cols []Column, fill func(*rowBuilder, *keymeter.Event, *Facts)) *Table {
	seen := make(map[string]bool, len(cols))
	fields := make([]orderedField, len(cols))
	for i, c := range cols {
		if seen[c.Name] {
			panic(fmt.Sprintf("lake: table %s has two columns %s", name, c.Name))
		}
		seen[c.Name] = true
		fields[i] = orderedField{Node: c.node(), name: c.Name}
	}
	return &Table{
		Name:    name,
		Source:  src,
		Columns: cols,
		schema:  parquet.NewSchema(name, orderedGroup(fields)),
		fill:    fill,
	}
}

// node returns the Parquet node of c.
func (c Column) node() parquet.Node {
	var n parquet.Node
	switch c.Kind {
	case String:
		n = parquet.String()
	case Int:
		n = parquet.Leaf(parquet.Int32Type)
	case BigInt:
		n = parquet.Leaf(parquet.Int64Type)
	case Double:
		n = parquet.Leaf(parquet.DoubleType)
	case Date:
		n = parquet.Date()
	case Timestamp:
		n = parquet.TimestampAdjusted(parquet.Microsecond, true)
	default:
		panic(fmt.Sprintf("lake: column %s has no kind", c.Name))
	}
	// Plain and dictionary encodings only: what every reader of DataPage
	// v1 files knows (parquet-go would use DELTA_LENGTH_BYTE_ARRAY).
	if c.Dict {
		n = parquet.Encoded(n, &parquet.RLEDictionary)
	} else {
		n = parquet.Encoded(n, &parquet.Plain)
	}
	if c.Nullable {
		n = parquet.Optional(n)
	}
	return n
}

// orderedGroup is a Parquet group whose columns keep the order they are
// given in (parquet.Group sorts them by name), so that the files list
// their columns in the order of the Athena table.
type orderedGroup []orderedField

type orderedField struct {
	parquet.Node
	name string
}

func (f *orderedField) Name() string { return f.name }

func (f *orderedField) Value(base reflect.Value) reflect.Value {
	panic("lake: tables are not read into Go values")
}

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return "group" }
func (g orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return reflect.TypeFor[map[string]any]() }
func (g orderedGroup) Fields() []parquet.Field {
	fields := make([]parquet.Field, len(g))
	for i := range g {
		fields[i] = &g[i]
	}
	return fields
}
