#!/usr/bin/env bash
# Shows keymeter on the sample logs in testdata/sample, in a fresh data
# directory that is removed afterwards. Usage: scripts/demo.sh [keymeter binary]
set -euo pipefail
cd "$(dirname "$0")/.."
km=${1:-bin/keymeter}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
export KEYMETER_DATA=$data

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$km" keys import testdata/sample/keys.csv
step "$km" ingest testdata/sample/logs
step "$km" ingest testdata/sample/logs
step "$km" usage --from 2025-10-01 --to 2025-11-01 --by customer
step "$km" usage --from 2025-10-01 --to 2025-11-01 --by customer,edge_result --format csv
step "$km" keys list
step "$km" rejects
step "$km" sql "SELECT regexp_extract(cs_uri_query, 'cf_api_key=([^&]+)', 1) AS api_key, COUNT(*) AS total_requests,
  SUM(sc_bytes) / 1024 / 1024 AS total_mb_sent, AVG(time_taken) AS avg_response_time
FROM cloudfront_logs WHERE year = '2025' AND month = '10' AND cs_uri_query LIKE '%cf_api_key=%'
GROUP BY 1 ORDER BY total_requests DESC"
export KEYMETER_BILLING=testdata/sample/billing.yaml
step "$km" customers set initech --plan scale --start 2025-10-01
step "$km" invoice --period 2025-10 --customer acme
# The sample's logs end with October, so keymeter cannot know that they are
# complete (CloudFront delivers standard logs up to a day late): --force.
step "$km" invoice finalize --period 2025-10 --force
step "$km" costs --period 2025-10 --by customer
