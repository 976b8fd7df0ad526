#!/usr/bin/env bash
# testenv.sh runs a command with the servers keymeter's integration tests
# talk to, on 127.0.0.1 only:
#
#   scripts/testenv.sh go test ./format/cloudfrontrt/... ./source/...
#
# It installs the npm dev dependencies pinned in package-lock.json (npm ci)
# when node_modules lacks them, starts kinesalite (Kinesis) and s3rver (S3)
# on free loopback ports, exports
#
#   KINESIS_ENDPOINT          http://127.0.0.1:PORT of kinesalite
#   S3_ENDPOINT               http://127.0.0.1:PORT of s3rver (any access key; secret S3RVER)
#   KEYMETER_CHROMIUM         the headless Chromium of the HTML invoice test
#   KEYMETER_TEST_POSTGRES    postgres://... of a PostgreSQL 15 server in a fresh
#                             temporary cluster (as the postgres user when run as root)
#   KEYMETER_REQUIRE_SERVERS  1: tests that need a server (or the browser) fail instead of skipping
#
# runs the command, and stops the servers and removes their data when it
# exits, however it exits. Its exit status is the command's. Needs node and
# npm (Debian: apt-get install nodejs npm), and installs Debian's chromium
# and postgresql-15 when they are missing and the script runs as root.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 command [argument ...]" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "testenv: $tool is required" >&2; exit 1; }
done

if [ ! -d "$root/node_modules/kinesalite" ] || [ ! -d "$root/node_modules/s3rver" ]; then
  echo "testenv: installing the npm dev dependencies (npm ci)" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

chromium=${KEYMETER_CHROMIUM:-$(command -v chromium || true)}
if [ -z "$chromium" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "testenv: installing chromium (apt-get install chromium)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >&2
  chromium=$(command -v chromium || true)
fi
if [ -n "$chromium" ]; then
  export KEYMETER_CHROMIUM=$chromium
fi

pgbin=/usr/lib/postgresql/15/bin
if [ ! -x "$pgbin/initdb" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "testenv: installing PostgreSQL 15 (apt-get install postgresql-15)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15) >&2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keymeter-testenv.XXXXXX")
pids=()
pgdata=
# as_pg runs a PostgreSQL program as the postgres user when root (initdb
# refuses to run as root), else as the current user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$pgdata" ]; then as_pg "$pgbin/pg_ctl" -D "$pgdata" -m immediate -s stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_port NAME PID PORTFILE waits until server NAME has written its port.
wait_port() {
  for _ in $(seq 1 200); do
    [ -s "$3" ] && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      echo "testenv: $1 exited before listening:" >&2
      cat "$tmp/$1.log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "testenv: $1 did not listen within 10 s:" >&2
  cat "$tmp/$1.log" >&2
  return 1
}

node "$root/scripts/kinesalite-serve.js" "$tmp/kinesalite.port" >"$tmp/kinesalite.log" 2>&1 &
pids+=($!)
wait_port kinesalite "$!" "$tmp/kinesalite.port"

mkdir "$tmp/s3rver"
S3RVER_DIR="$tmp/s3rver" NODE_OPTIONS=--openssl-legacy-provider \
  node "$root/scripts/s3rver-serve.js" "$tmp/s3rver.port" >"$tmp/s3rver.log" 2>&1 &
pids+=($!)
wait_port s3rver "$!" "$tmp/s3rver.port"

# PostgreSQL 15 in a fresh cluster on a free loopback port, with
# durability off (a test cluster).
if [ -x "$pgbin/initdb" ]; then
  chmod 711 "$tmp"
  mkdir "$tmp/pg"
  [ "$(id -u)" = 0 ] && chown postgres: "$tmp/pg"
  pgport=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  as_pg "$pgbin/initdb" -D "$tmp/pg/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$tmp/pg-initdb.log" 2>&1 ||
    { echo "testenv: initdb failed:" >&2; cat "$tmp/pg-initdb.log" >&2; exit 1; }
  as_pg "$pgbin/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/server.log" -w -s \
    -o "-c listen_addresses=127.0.0.1 -p $pgport -k $tmp/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start ||
    { echo "testenv: PostgreSQL did not start:" >&2; cat "$tmp/pg/server.log" >&2; exit 1; }
  pgdata="$tmp/pg/data"
  export KEYMETER_TEST_POSTGRES="postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable"
fi

export KINESIS_ENDPOINT="http://127.0.0.1:$(cat "$tmp/kinesalite.port")"
export S3_ENDPOINT="http://127.0.0.1:$(cat "$tmp/s3rver.port")"
export KEYMETER_REQUIRE_SERVERS=1
echo "testenv: KINESIS_ENDPOINT=$KINESIS_ENDPOINT S3_ENDPOINT=$S3_ENDPOINT KEYMETER_CHROMIUM=${KEYMETER_CHROMIUM:-} KEYMETER_TEST_POSTGRES=${KEYMETER_TEST_POSTGRES:-}" >&2

status=0
"$@" || status=$?
exit "$status"
