package cloudwatch

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
)

// BenchmarkReader reads a gzip payload of 1000 API Gateway JSON lines, as
// a Kinesis record or a Firehose object member holds them. Allocations
// are per payload (the gzip and JSON decoders), not per event.
func BenchmarkReader(b *testing.B) {
	const events = 1000
	type logEvent struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
	p := struct {
		MessageType string     `json:"messageType"`
		Owner       string     `json:"owner"`
		LogGroup    string     `json:"logGroup"`
		LogStream   string     `json:"logStream"`
		LogEvents   []logEvent `json:"logEvents"`
	}{MessageType: DataMessage, Owner: "123456789012", LogGroup: "g", LogStream: "s"}
	for i := range events {
		p.LogEvents = append(p.LogEvents, logEvent{
			ID:        fmt.Sprintf("%056d", i),
			Timestamp: 1551890421473,
			Message:   fmt.Sprintf(`{"requestId":"c6af9ac6-7b61-11e6-9a41-%012d","ip":"203.0.113.7","requestTime":"06/Mar/2019:16:40:21 +0000","httpMethod":"GET","resourcePath":"/pets/{petId}","status":"200","protocol":"HTTP/1.1","responseLength":"42"}`, i),
		})
	}
	js, _ := json.Marshal(p)
	data := gz(b, js)
	r := NewReader(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(js)))
	for b.Loop() {
		r.ResetBytes(data)
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != events {
			b.Fatalf("%d events", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}
