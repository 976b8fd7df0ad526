package cloudwatch_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/apigateway"
	"github.com/keymeter/keymeter/format/cloudwatch"
)

// lambdaEvent builds what a Lambda subscription receives for a payload of
// API Gateway access log lines.
func lambdaEvent(lines ...string) []byte {
	type logEvent struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
	p := struct {
		MessageType         string     `json:"messageType"`
		Owner               string     `json:"owner"`
		LogGroup            string     `json:"logGroup"`
		LogStream           string     `json:"logStream"`
		SubscriptionFilters []string   `json:"subscriptionFilters"`
		LogEvents           []logEvent `json:"logEvents"`
	}{MessageType: "DATA_MESSAGE", Owner: "123456789012", LogGroup: "API-Gateway-Access-Logs_a1b2c3/prod",
		LogStream: "stream", SubscriptionFilters: []string{"keymeter"}}
	for i, l := range lines {
		// CloudWatch's timestamp: a second after the request, ingestion side.
		p.LogEvents = append(p.LogEvents, logEvent{fmt.Sprintf("3195310660696698337880902507980421114328961542429822156%d", i), 1551890422473, l})
	}
	js, _ := json.Marshal(p)
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(js)
	w.Close()
	return []byte(`{"awslogs":{"data":"` + base64.StdEncoding.EncodeToString(z.Bytes()) + `"}}`)
}

// Example shows how ingest combines the two packages: the CloudWatch log
// event's message is the API Gateway record; its ID is a second dedupe
// key; the request time comes from the record.
func Example() {
	in := lambdaEvent(
		`{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","extendedRequestId":"DmW5bGxsIAMFb_w=","requestTimeEpoch":"1551890421473","httpMethod":"GET","path":"/prod/pets","status":"200","responseLength":"42","apiKeyId":"k1a2b3","userAgent":"curl \"8\""}`,
		`{"requestId":"r-2","requestTimeEpoch":"1551890421474","userAgent":"broken "quote""}`,
	)
	r := cloudwatch.NewReader(bytes.NewReader(in))
	p := apigateway.NewJSONParser(apigateway.DefaultMapping())
	var ev keymeter.Event
	for {
		le, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		ok, err := p.Parse(le.Message, &ev)
		if err != nil {
			fmt.Printf("reject (cloudwatch id %s): %v\n", le.ID[len(le.ID)-3:], err)
			continue
		}
		if ok {
			x := p.Extra()
			fmt.Printf("%s %s %s %d key=%s ua=%s dedupe=%s cwid=%s group=%s\n",
				keymeterTime(ev.Time), ev.Fields[keymeter.FieldMethod], ev.Fields[keymeter.FieldURIStem], ev.Status,
				x.APIKeyID, ev.Fields[keymeter.FieldUserAgent], ev.Fields[keymeter.FieldRequestID], le.ID[len(le.ID)-3:], le.Envelope.LogGroup)
		}
	}
	// Output:
	// 2019-03-06T16:40:21.473Z GET /prod/pets 200 key=k1a2b3 ua=curl "8" dedupe=DmW5bGxsIAMFb_w= cwid=560 group=API-Gateway-Access-Logs_a1b2c3/prod
	// reject (cloudwatch id 561): userAgent: invalid JSON: at byte 75: expected ',' or '}' after the value (an unescaped quote inside the value?)
}

func keymeterTime(us int64) string {
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}
