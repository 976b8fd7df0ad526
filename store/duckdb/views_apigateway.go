package duckdb

// apigatewayViews are created with views, at every open. apigateway_logs
// shows API Gateway events with the names of the $context variables they
// came from. The caller is the API key ID, the operator's identity or
// the fingerprint of a logged API key, whichever the request was
// attributed to (see keymeter.OriginIdentity).
const apigatewayViews = `
CREATE OR REPLACE VIEW apigateway_logs AS
SELECT
	e.ts AS request_time,
	split_part(e.rest, chr(9), 1) AS request_id,
	nullif(split_part(e.rest, chr(9), 3), '-') AS api_request_id,
	nullif(split_part(e.rest, chr(9), 2), '-') AS source_ip,
	CASE WHEN starts_with(k.fingerprint, 'apikeyid:') THEN substr(k.fingerprint, 10) END AS api_key_id,
	CASE WHEN starts_with(k.fingerprint, 'identity:') THEN substr(k.fingerprint, 10) END AS identity,
	CASE WHEN NOT contains(k.fingerprint, ':') THEN k.fingerprint END AS api_key,
	o.customer AS customer,
	nullif(d.method, '-') AS http_method,
	nullif(p.raw, '-') AS path,
	nullif(d.resource_path, '-') AS resource_path,
	nullif(d.route_key, '-') AS route_key,
	nullif(d.stage, '-') AS stage,
	nullif(d.api_id, '-') AS api_id,
	nullif(d.viewer_host, '-') AS domain_name,
	nullif(d.protocol_version, '-') AS protocol,
	e.status AS status,
	e.bytes_sent AS response_length,
	e.time_taken AS response_latency_ms,
	nullif(c.user_agent, '-') AS user_agent,
	strftime(e.ts, '%Y') AS year,
	strftime(e.ts, '%m') AS month,
	strftime(e.ts, '%d') AS day
FROM event_rows e
LEFT JOIN api_keys k ON k.id = e.key_id
LEFT JOIN key_owner_spans o ON ` + ownerJoin + `
LEFT JOIN dict_dims d ON d.id = e.dims
LEFT JOIN dict_clients c ON c.id = e.client
LEFT JOIN dict_paths p ON p.id = e.path
WHERE e.source = 3;
`
