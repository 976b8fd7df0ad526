package apigateway

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/keymeter/keymeter"
)

func benchmarkParse(b *testing.B, p *Parser, rec []byte) {
	var ev keymeter.Event
	if ok, err := p.Parse(rec, &ev); !ok || err != nil {
		b.Fatalf("Parse = %v, %v", ok, err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		p.Parse(rec, &ev)
	}
}

// BenchmarkJSONParser parses the first record of the wide fixture: 55
// keys, two nested objects, ~1.7 kB.
func BenchmarkJSONParser(b *testing.B) {
	sc := bufio.NewScanner(bytes.NewReader(readFixture(b, "clo-opensearch_microbatch_apigateway1.log")))
	sc.Buffer(nil, 1<<20)
	sc.Scan()
	benchmarkParse(b, NewJSONParser(testMapping()), bytes.Clone(sc.Bytes()))
}

// BenchmarkJSONParserDocTemplate parses a record of AWS's documented JSON
// template, with an escaped user agent.
func BenchmarkJSONParserDocTemplate(b *testing.B) {
	rec := []byte(`{ "requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "extendedRequestId":"DmW5bGxsIAMFb_w=","ip": "203.0.113.7", "caller":"-", "user":"-","requestTime":"06/Mar/2019:16:40:21 +0000", "httpMethod":"GET","resourcePath":"/pets/{petId}", "status":"200","protocol":"HTTP/1.1", "responseLength":"42", "userAgent":"curl \"8\"" }`)
	benchmarkParse(b, NewJSONParser(DefaultMapping()), rec)
}

func BenchmarkCLFParser(b *testing.B) {
	rec := []byte(`203.0.113.7 - - [06/Mar/2019:16:40:21 +0000] "GET /pets/{petId} HTTP/1.1" 200 42 c6af9ac6-7b61-11e6-9a41-93e8deadbeef DmW5bGxsIAMFb_w=`)
	benchmarkParse(b, NewCLFParser(), rec)
}
