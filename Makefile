# keymeter's developer commands. The README documents them.

.PHONY: build test demo bench bench-serve fuzz

build:
	go build -o bin/keymeter ./cmd/keymeter

# The whole test suite, as CI runs it.
test:
	./scripts/test.sh

# Build keymeter and run it on the sample logs in testdata/sample.
demo: build
	./scripts/demo.sh bin/keymeter

# Ingest and query speed against the decompression floor (4 M lines), then
# real-time logs from files and from Kinesis (kinesalite, started by testenv.sh).
bench:
	./scripts/testenv.sh go run ./bench

# keymeter serve ingesting a directory of gzip logs while loaded with
# GET /api/v1/usage at 200 requests/s: latencies, ingest rate, RSS.
bench-serve:
	go run ./bench -serve

# A short fuzzing session for every parser, and for the whole path from
# bytes to stored events and queries (FuzzIngest).
fuzz:
	go test ./ingest -run '^$$' -fuzz '^FuzzIngest$$' -fuzztime 1000x -fuzzminimizetime 100x
	go test . -run '^$$' -fuzz '^FuzzValidUTF8$$' -fuzztime 30s
	go test ./format/cloudfront -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30s
	go test ./format/cloudfront -run '^$$' -fuzz '^FuzzNumericFields$$' -fuzztime 30s
	go test ./format/cloudfront -run '^$$' -fuzz '^FuzzNextParam$$' -fuzztime 30s
	go test ./format/cloudfront -run '^$$' -fuzz '^FuzzParamScanner$$' -fuzztime 30s
	go test ./format/cloudfrontrt -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30s
	go test ./format/cloudfrontrt -run '^$$' -fuzz '^FuzzHeaders$$' -fuzztime 30s
	go test ./ingest -run '^$$' -fuzz '^FuzzRedact$$' -fuzztime 30s
	go test ./ingest -run '^$$' -fuzz '^FuzzRedactHeaders$$' -fuzztime 30s
	go test ./format/apigateway -run '^$$' -fuzz '^FuzzJSONParser$$' -fuzztime 30s
	go test ./format/apigateway -run '^$$' -fuzz '^FuzzCLFParser$$' -fuzztime 30s
	go test ./format/apigateway -run '^$$' -fuzz '^FuzzNumbers$$' -fuzztime 30s
	go test ./format/apigateway -run '^$$' -fuzz '^FuzzRedactJSONKeys$$' -fuzztime 30s
	go test ./format/cloudwatch -run '^$$' -fuzz '^FuzzSubscriptionReader$$' -fuzztime 30s
	go test ./format/cloudwatch -run '^$$' -fuzz '^FuzzParseExportLine$$' -fuzztime 30s
	go test ./format/internal/lex -run '^$$' -fuzz '^FuzzUnquoteJSON$$' -fuzztime 30s
	go test ./format/internal/lex -run '^$$' -fuzz '^FuzzScanJSONString$$' -fuzztime 30s
	go test ./format/internal/lex -run '^$$' -fuzz '^FuzzInt$$' -fuzztime 30s
