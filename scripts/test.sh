#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: gofmt, vet and a check
# that go.mod and go.sum are tidy, then every test, with the servers the
# integration tests talk to (kinesalite for Kinesis, s3rver for S3)
# started on 127.0.0.1 by scripts/testenv.sh, then a short fuzzing run of
# FuzzIngest.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go vet ./...
# go mod tidy must have nothing to change. Tidy considers every platform,
# so on a fresh machine it downloads the DuckDB libraries of the four
# platforms a build here does not need too: about 110 MB more (440 MB
# unpacked); from an empty module cache the check took 15 s.
if ! go mod tidy -diff; then
	echo "go mod tidy would change go.mod or go.sum as shown above: run go mod tidy" >&2
	exit 1
fi
# The default 10-minute limit per package is near cmd/keymeter's time on a
# loaded 2-core machine (its end-to-end tests run the real binary).
scripts/testenv.sh go test -count=1 -timeout 20m ./...
# A short fuzzing run of the whole path, bytes to stored events and
# queries: no input may stop a run. About 10 s: the run is counted in
# inputs, because a -fuzztime in seconds can fail at its end for no input
# (go.dev/issue/75804, fixed in Go 1.27).
go test ./ingest -run '^$' -fuzz '^FuzzIngest$' -fuzztime 150x -fuzzminimizetime 20x
