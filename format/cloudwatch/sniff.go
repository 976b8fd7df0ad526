package cloudwatch

// JSONKind is what the start of a JSON document says it is.
type JSONKind uint8

// JSON kinds.
const (
	// OtherJSON is JSON that is not a CloudWatch Logs envelope (an access
	// log line), or too little of one to tell.
	OtherJSON JSONKind = iota
	// PayloadJSON is a subscription-filter payload.
	PayloadJSON
	// LambdaJSON is a Lambda event around a payload ({"awslogs":...}).
	LambdaJSON
)

// SniffJSON reads the top-level keys of the JSON object b starts with,
// as far as b goes (a prefix is enough, and it need not be valid), and
// says whether it is a subscription-filter payload (it has messageType,
// logEvents or subscriptionFilters), a Lambda event (awslogs) or other
// JSON. Keys of nested objects and text inside strings do not count.
func SniffJSON(b []byte) JSONKind {
	i, depth := 0, 0
	expectKey := false
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			end := i + 1
			for end < len(b) && b[end] != '"' {
				if b[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(b) {
				return OtherJSON
			}
			if depth == 1 && expectKey {
				switch string(b[i+1 : end]) {
				case "awslogs":
					return LambdaJSON
				case "messageType", "logEvents", "subscriptionFilters":
					return PayloadJSON
				}
				expectKey = false
			}
			i = end + 1
			continue
		case '{', '[':
			depth++
			expectKey = c == '{' && depth == 1
		case '}', ']':
			depth--
			if depth == 0 {
				return OtherJSON // the first object ended without payload keys
			}
		case ',':
			expectKey = depth == 1
		}
		i++
	}
	return OtherJSON
}

// IsExportLine reports whether line starts with the ISO time of an
// export-to-S3 line (see ParseExportLine).
func IsExportLine(line []byte) bool {
	if len(line) < 20 || line[10] != 'T' {
		return false
	}
	_, _, err := ParseExportLine(line)
	return err == nil
}
