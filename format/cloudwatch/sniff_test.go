package cloudwatch

import "testing"

func TestSniffJSON(t *testing.T) {
	tests := []struct {
		name string
		json string
		want JSONKind
	}{
		{"a payload with its type after other keys", `{"owner":"123456789012","logGroup":"g","messageType":"DATA_MESSAGE","logEvents":[]}`, PayloadJSON},
		{"a payload cut inside its events", `{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":"{\"a\":`, PayloadJSON},
		{"subscription filters first", `{"subscriptionFilters":["f"]`, PayloadJSON},
		{"a Lambda event", `{"awslogs":{"data":"H4sI`, LambdaJSON},
		{"awslogs in a nested value", `{"requestId":"r","authorizer":{"awslogs":"x"}}`, OtherJSON},
		{"messageType inside a string", `{"requestId":"r","userAgent":"\"messageType\": x"}`, OtherJSON},
		{"messageType as a value", `{"type":"messageType"}`, OtherJSON},
		{"cut inside the first key", `{"messa`, OtherJSON},
		{"an access log line", `{"requestId":"r","status":"200"}`, OtherJSON},
	}
	for _, tt := range tests {
		if got := SniffJSON([]byte(tt.json)); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestIsExportLine(t *testing.T) {
	for line, want := range map[string]bool{
		`2019-03-06T16:40:21.473Z {"requestId":"r"}`: true,
		"2019-03-06T16:40Z message":                  false, // no seconds
		"2019-03-06T99:40:21.473Z message":           false,
		"2019-03-06 16:40:21.473Z message":           false,
		"1759276800.123\t192.0.2.1":                  false,
	} {
		if got := IsExportLine([]byte(line)); got != want {
			t.Errorf("%q: %v, want %v", line, got, want)
		}
	}
}
