package duckdb

// schema creates the tables of schema version 1 (see migrate.go). Events are stored narrow: repeated strings
// live once in dictionary tables keyed by a 64-bit hash of their value,
// and the row keeps the hash. event_rows is the storage table; the views
// events and cloudfront_logs are what people query.
const schema = `
CREATE TABLE IF NOT EXISTS meta (
	key   VARCHAR PRIMARY KEY,
	value VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS event_rows (
	source         UTINYINT  NOT NULL,
	ts             TIMESTAMP NOT NULL,
	id_hi          BIGINT   NOT NULL,
	id_lo          BIGINT   NOT NULL,
	key_id         BIGINT,
	attribution    UTINYINT  NOT NULL,
	dims           BIGINT   NOT NULL,
	client         BIGINT   NOT NULL,
	path           BIGINT   NOT NULL,
	status         SMALLINT,
	bytes_sent     BIGINT,
	bytes_received BIGINT,
	time_taken     INTEGER,
	ttfb           INTEGER,
	c_port         INTEGER,
	fle_encrypted  INTEGER,
	content_len    BIGINT,
	range_start    BIGINT,
	range_end      BIGINT,
	load_id        UINTEGER  NOT NULL,
	rest           VARCHAR   NOT NULL USING COMPRESSION uncompressed
);

CREATE TABLE IF NOT EXISTS event_hours (
	source UTINYINT NOT NULL,
	hour   BIGINT   NOT NULL,
	events BIGINT   NOT NULL,
	PRIMARY KEY (source, hour)
);

CREATE TABLE IF NOT EXISTS loads (
	id        UINTEGER PRIMARY KEY,
	source    UTINYINT NOT NULL,
	object    VARCHAR,
	loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS dict_paths (
	id     BIGINT PRIMARY KEY,
	source UTINYINT NOT NULL,
	raw    VARCHAR NOT NULL,
	path   VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS dict_dims (
	id                   BIGINT PRIMARY KEY,
	source               UTINYINT NOT NULL,
	edge_location        VARCHAR,
	method               VARCHAR,
	distribution_domain  VARCHAR,
	viewer_host          VARCHAR,
	protocol             VARCHAR,
	protocol_version     VARCHAR,
	ssl_protocol         VARCHAR,
	ssl_cipher           VARCHAR,
	edge_result          VARCHAR,
	edge_response_result VARCHAR,
	edge_detailed_result VARCHAR,
	fle_status           VARCHAR,
	content_type         VARCHAR,
	-- real-time logs only (NULL for standard logs)
	country              VARCHAR,
	ip_version           VARCHAR,
	accept_encoding      VARCHAR,
	accept               VARCHAR,
	cache_behavior       VARCHAR,
	primary_distribution_id       VARCHAR,
	primary_distribution_dns_name VARCHAR,
	-- API Gateway only
	stage                VARCHAR,
	api_id               VARCHAR,
	resource_path        VARCHAR,
	route_key            VARCHAR
);

CREATE TABLE IF NOT EXISTS dict_clients (
	id         BIGINT PRIMARY KEY,
	source     UTINYINT NOT NULL,
	user_agent VARCHAR,
	referer    VARCHAR,
	-- real-time logs only (NULL for standard logs): cs-header-names
	header_names VARCHAR
);

CREATE TABLE IF NOT EXISTS api_keys (
	id          BIGINT PRIMARY KEY,
	fingerprint VARCHAR NOT NULL,
	hint        VARCHAR NOT NULL,
	customer    VARCHAR,
	assigned_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS objects (
	uri         VARCHAR   NOT NULL,
	size        BIGINT    NOT NULL,
	mod_time    TIMESTAMP,
	digest      VARCHAR   NOT NULL,
	etag        VARCHAR   NOT NULL,
	status      VARCHAR   NOT NULL,
	error       VARCHAR   NOT NULL,
	ingested_at TIMESTAMP NOT NULL,
	lines       BIGINT    NOT NULL,
	events      BIGINT    NOT NULL,
	duplicates  BIGINT    NOT NULL,
	rejected    BIGINT    NOT NULL
);

-- The read position of each shard of each stream (Kinesis), committed in
-- the same transaction as the events of the records up to it.
CREATE TABLE IF NOT EXISTS checkpoints (
	stream     VARCHAR   NOT NULL,
	shard      VARCHAR   NOT NULL,
	sequence   VARCHAR   NOT NULL,
	updated_at TIMESTAMP NOT NULL,
	PRIMARY KEY (stream, shard)
);

CREATE TABLE IF NOT EXISTS rejects (
	source UTINYINT  NOT NULL,
	object VARCHAR   NOT NULL,
	line   BIGINT    NOT NULL,
	field  VARCHAR   NOT NULL,
	reason VARCHAR   NOT NULL,
	text   VARCHAR   NOT NULL,
	rejected_at TIMESTAMP NOT NULL
);
`

// dimsColumns are the dict_dims columns in table order. CloudFront's
// sources fill them by position, in the order of
// keymeter.LayoutOf(source).Dims: standard logs the first 13, real-time
// logs the first 20. Other sources name their columns in
// sourceDimsColumns.
var dimsColumns = []string{
	"edge_location", "method", "distribution_domain", "viewer_host", "protocol", "protocol_version",
	"ssl_protocol", "ssl_cipher", "edge_result", "edge_response_result", "edge_detailed_result",
	"fle_status", "content_type",
	"country", "ip_version", "accept_encoding", "accept", "cache_behavior",
	"primary_distribution_id", "primary_distribution_dns_name",
	"stage", "api_id", "resource_path", "route_key",
}

// views are (re)created at every open, so that a newer keymeter can change
// them without a migration.
const views = `
CREATE OR REPLACE MACRO events_as_of(known_at) AS TABLE
SELECT
	CASE e.source WHEN 1 THEN 'cloudfront' WHEN 2 THEN 'cloudfront-realtime' WHEN 3 THEN 'apigateway' END AS source,
	e.ts AS time,
	split_part(e.rest, chr(9), 1) AS request_id,
	k.fingerprint AS api_key,
	o.customer AS customer,
	CASE e.attribution WHEN 1 THEN 'no_key' WHEN 2 THEN 'key_truncated' END AS unattributed_reason,
	nullif(d.method, '-') AS method,
	p.path AS path,
	e.status AS status,
	nullif(d.edge_result, '-') AS edge_result,
	nullif(d.edge_location, '-') AS edge_location,
	e.bytes_sent AS bytes_sent,
	e.bytes_received AS bytes_received,
	e.time_taken AS time_taken_ms,
	l.object AS object,
	l.loaded_at AS loaded_at
FROM (SELECT * FROM event_rows
	UNION ALL BY NAME SELECT * EXCLUDE (retracted_at) FROM retracted_events WHERE retracted_at > known_at) e
JOIN loads l ON l.id = e.load_id AND l.loaded_at <= known_at
LEFT JOIN api_keys k ON k.id = e.key_id
LEFT JOIN key_owners_as_of(known_at) o ON ` + ownerJoin + `
LEFT JOIN dict_dims d ON d.id = e.dims
LEFT JOIN dict_paths p ON p.id = e.path;

CREATE OR REPLACE VIEW events AS SELECT * FROM events_as_of(CAST('infinity' AS TIMESTAMP));

CREATE OR REPLACE VIEW cloudfront_logs AS
SELECT
	CAST(e.ts AS DATE) AS "date",
	strftime(e.ts, '%H:%M:%S') AS "time",
	d.edge_location AS x_edge_location,
	e.bytes_sent AS sc_bytes,
	split_part(e.rest, chr(9), 2) AS c_ip,
	d.method AS cs_method,
	d.distribution_domain AS cs_host,
	p.raw AS cs_uri_stem,
	CAST(e.status AS INTEGER) AS sc_status,
	c.referer AS cs_referrer,
	c.user_agent AS cs_user_agent,
	split_part(e.rest, chr(9), 3) AS cs_uri_query,
	split_part(e.rest, chr(9), 4) AS cs_cookie,
	d.edge_result AS x_edge_result_type,
	split_part(e.rest, chr(9), 1) AS x_edge_request_id,
	d.viewer_host AS x_host_header,
	d.protocol AS cs_protocol,
	e.bytes_received AS cs_bytes,
	CAST(e.time_taken AS DOUBLE) / 1000 AS time_taken,
	split_part(e.rest, chr(9), 5) AS x_forwarded_for,
	d.ssl_protocol AS ssl_protocol,
	d.ssl_cipher AS ssl_cipher,
	d.edge_response_result AS x_edge_response_result_type,
	d.protocol_version AS cs_protocol_version,
	d.fle_status AS fle_status,
	e.fle_encrypted AS fle_encrypted_fields,
	e.c_port AS c_port,
	CAST(e.ttfb AS DOUBLE) / 1000 AS time_to_first_byte,
	d.edge_detailed_result AS x_edge_detailed_result_type,
	d.content_type AS sc_content_type,
	e.content_len AS sc_content_len,
	e.range_start AS sc_range_start,
	e.range_end AS sc_range_end,
	strftime(e.ts, '%Y') AS year,
	strftime(e.ts, '%m') AS month,
	strftime(e.ts, '%d') AS day
FROM event_rows e
JOIN dict_dims d ON d.id = e.dims
JOIN dict_clients c ON c.id = e.client
JOIN dict_paths p ON p.id = e.path
WHERE e.source = 1;

CREATE OR REPLACE VIEW cloudfront_realtime_logs AS
SELECT
	printf('%d.%03d', epoch_ms(e.ts) // 1000, epoch_ms(e.ts) % 1000) AS "timestamp",
	split_part(e.rest, chr(9), 2) AS c_ip,
	CAST(e.ttfb AS DOUBLE) / 1000 AS time_to_first_byte,
	CAST(e.status AS BIGINT) AS sc_status,
	e.bytes_sent AS sc_bytes,
	d.method AS cs_method,
	d.protocol AS cs_protocol,
	d.viewer_host AS cs_host,
	CASE WHEN split_part(e.rest, chr(9), 3) = '-' THEN p.raw
		ELSE p.raw || '?' || split_part(e.rest, chr(9), 3) END AS cs_uri_stem,
	e.bytes_received AS cs_bytes,
	d.edge_location AS x_edge_location,
	split_part(e.rest, chr(9), 1) AS x_edge_request_id,
	d.distribution_domain AS x_host_header,
	CAST(e.time_taken AS DOUBLE) / 1000 AS time_taken,
	d.protocol_version AS cs_protocol_version,
	d.ip_version AS c_ip_version,
	c.user_agent AS cs_user_agent,
	c.referer AS cs_referer,
	split_part(e.rest, chr(9), 4) AS cs_cookie,
	split_part(e.rest, chr(9), 3) AS cs_uri_query,
	d.edge_response_result AS x_edge_response_result_type,
	split_part(e.rest, chr(9), 5) AS x_forwarded_for,
	d.ssl_protocol AS ssl_protocol,
	d.ssl_cipher AS ssl_cipher,
	d.edge_result AS x_edge_result_type,
	CAST(e.fle_encrypted AS VARCHAR) AS fle_encrypted_fields,
	d.fle_status AS fle_status,
	d.content_type AS sc_content_type,
	e.content_len AS sc_content_len,
	CAST(e.range_start AS VARCHAR) AS sc_range_start,
	CAST(e.range_end AS VARCHAR) AS sc_range_end,
	CAST(e.c_port AS BIGINT) AS c_port,
	d.edge_detailed_result AS x_edge_detailed_result_type,
	d.country AS c_country,
	d.accept_encoding AS cs_accept_encoding,
	d.accept AS cs_accept,
	d.cache_behavior AS cache_behavior_path_pattern,
	split_part(e.rest, chr(9), 6) AS cs_headers,
	c.header_names AS cs_header_names,
	TRY_CAST(split_part(e.rest, chr(9), 7) AS BIGINT) AS cs_headers_count,
	d.primary_distribution_id AS primary_distribution_id,
	d.primary_distribution_dns_name AS primary_distribution_dns_name,
	split_part(e.rest, chr(9), 10) AS origin_fbl,
	split_part(e.rest, chr(9), 11) AS origin_lbl,
	split_part(e.rest, chr(9), 9) AS asn,
	split_part(e.rest, chr(9), 8) AS s_ip,
	strftime(e.ts, '%Y') AS year,
	strftime(e.ts, '%m') AS month,
	strftime(e.ts, '%d') AS day
FROM event_rows e
JOIN dict_dims d ON d.id = e.dims
JOIN dict_clients c ON c.id = e.client
JOIN dict_paths p ON p.id = e.path
WHERE e.source = 2;

CREATE OR REPLACE MACRO approx_percentile(x, p) AS approx_quantile(x, p);
CREATE OR REPLACE MACRO approx_distinct(x) AS approx_count_distinct(x);
CREATE OR REPLACE MACRO regexp_like(s, pattern) AS regexp_matches(s, pattern);
CREATE OR REPLACE MACRO url_extract_parameter(url, name) AS
	nullif(regexp_extract(url, '[?&]' || name || '=([^&#]*)', 1), '');
CREATE OR REPLACE MACRO from_unixtime(x) AS to_timestamp(x);
`

// billingSchema creates the tables billing keeps: customers' plan
// assignments and finalized invoices. It only adds tables, so it needs no
// schema version: an older keymeter ignores them, and a store created by
// one gets them at the next writable open.
const billingSchema = `
CREATE TABLE IF NOT EXISTS customers (
	customer           VARCHAR PRIMARY KEY,
	plan               VARCHAR NOT NULL,
	start              DATE NOT NULL,
	stripe_customer_id VARCHAR,
	time_zone          VARCHAR,
	periods            VARCHAR,
	updated_at         TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS invoices (
	customer     VARCHAR NOT NULL,
	month        VARCHAR NOT NULL,
	seq          BIGINT NOT NULL UNIQUE,
	number       VARCHAR NOT NULL UNIQUE,
	status       VARCHAR NOT NULL,
	cutoff       TIMESTAMP NOT NULL,
	finalized_at TIMESTAMP NOT NULL,
	document     VARCHAR NOT NULL,
	PRIMARY KEY (customer, month)
);
`
