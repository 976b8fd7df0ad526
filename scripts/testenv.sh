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
#   KEYMETER_REQUIRE_SERVERS  1: tests that need a server (or the browser) fail instead of skipping
#
# runs the command, and stops the servers and removes their data when it
# exits, however it exits. Its exit status is the command's. Needs node and
# npm (Debian: apt-get install nodejs npm), and installs Debian's chromium
# when it is missing and the script runs as root.
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keymeter-testenv.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
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

export KINESIS_ENDPOINT="http://127.0.0.1:$(cat "$tmp/kinesalite.port")"
export S3_ENDPOINT="http://127.0.0.1:$(cat "$tmp/s3rver.port")"
export KEYMETER_REQUIRE_SERVERS=1
echo "testenv: KINESIS_ENDPOINT=$KINESIS_ENDPOINT S3_ENDPOINT=$S3_ENDPOINT KEYMETER_CHROMIUM=${KEYMETER_CHROMIUM:-}" >&2

status=0
"$@" || status=$?
exit "$status"
