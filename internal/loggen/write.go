package loggen

import (
	"strconv"
	"strings"
)

// StandardFields is the 33-field layout of CloudFront standard logs.
var StandardFields = []string{
	"date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)", "cs-uri-stem",
	"sc-status", "cs(Referer)", "cs(User-Agent)", "cs-uri-query", "cs(Cookie)", "x-edge-result-type",
	"x-edge-request-id", "x-host-header", "cs-protocol", "cs-bytes", "time-taken", "x-forwarded-for",
	"ssl-protocol", "ssl-cipher", "x-edge-response-result-type", "cs-protocol-version", "fle-status",
	"fle-encrypted-fields", "c-port", "time-to-first-byte", "x-edge-detailed-result-type",
	"sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end",
}

// Header returns the two header lines of a standard log with the given
// field names.
func Header(fields []string) string {
	return "#Version: 1.0\n#Fields: " + strings.Join(fields, " ") + "\n"
}

// AppendLine appends r as one log line (with its newline) in the layout
// given by fields.
func (r *Record) AppendLine(dst []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, '\t')
		}
		dst = r.appendField(dst, f)
	}
	return append(dst, '\n')
}

func (r *Record) appendField(dst []byte, name string) []byte {
	switch name {
	case "date":
		return r.Time.AppendFormat(dst, "2006-01-02")
	case "time":
		return r.Time.AppendFormat(dst, "15:04:05")
	case "x-edge-location":
		return append(dst, r.Edge...)
	case "sc-bytes":
		return strconv.AppendInt(dst, r.BytesSent, 10)
	case "c-ip":
		return append(dst, r.IP...)
	case "cs-method":
		return append(dst, r.Method...)
	case "cs(Host)":
		return append(dst, r.distribution()...)
	case "cs-uri-stem":
		return append(dst, r.Path...)
	case "sc-status":
		if r.Status == 0 {
			return append(dst, "000"...)
		}
		return strconv.AppendInt(dst, int64(r.Status), 10)
	case "cs(User-Agent)":
		return append(dst, r.UA...)
	case "cs-uri-query":
		return append(dst, r.Query...)
	case "x-edge-result-type":
		return append(dst, r.Result...)
	case "x-edge-request-id":
		return append(dst, r.RequestID...)
	case "x-host-header":
		return append(dst, "api.example.com"...)
	case "cs-protocol":
		return append(dst, "https"...)
	case "cs-bytes":
		return strconv.AppendInt(dst, r.BytesRecv, 10)
	case "time-taken":
		return appendSeconds(dst, r.TimeTakenMs)
	case "time-to-first-byte":
		return appendSeconds(dst, r.TTFBMs)
	case "ssl-protocol":
		return append(dst, "TLSv1.3"...)
	case "ssl-cipher":
		return append(dst, "TLS_AES_128_GCM_SHA256"...)
	case "x-edge-response-result-type":
		return append(dst, r.Result...)
	case "cs-protocol-version":
		return append(dst, "HTTP/2.0"...)
	case "c-port":
		return strconv.AppendInt(dst, int64(r.Port), 10)
	case "x-edge-detailed-result-type":
		return append(dst, r.DetailedType...)
	case "sc-content-type":
		return append(dst, "application/json"...)
	case "sc-content-len":
		return strconv.AppendInt(dst, r.ContentLen, 10)
	}
	return append(dst, '-') // referer, cookie, x-forwarded-for, fle-*, ranges
}

func appendSeconds(dst []byte, ms int) []byte {
	dst = strconv.AppendInt(dst, int64(ms/1000), 10)
	dst = append(dst, '.')
	frac := ms % 1000
	dst = append(dst, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return dst
}

// RealtimeFields are the 45 documented fields of CloudFront real-time
// logs, in the order CloudFront writes them (which is not necessarily the
// order a configuration lists them in). It is written out here, apart
// from the parser's own list, so that tests check one against the other.
var RealtimeFields = []string{
	"timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-method", "cs-protocol", "cs-host",
	"cs-uri-stem", "cs-bytes", "x-edge-location", "x-edge-request-id", "x-host-header", "time-taken",
	"cs-protocol-version", "c-ip-version", "cs-user-agent", "cs-referer", "cs-cookie", "cs-uri-query",
	"x-edge-response-result-type", "x-forwarded-for", "ssl-protocol", "ssl-cipher", "x-edge-result-type",
	"fle-encrypted-fields", "fle-status", "sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end",
	"c-port", "x-edge-detailed-result-type", "c-country", "cs-accept-encoding", "cs-accept",
	"cache-behavior-path-pattern", "cs-headers", "cs-header-names", "cs-headers-count", "primary-distribution-id",
	"primary-distribution-dns-name", "origin-fbl", "origin-lbl", "asn",
}

// AppendRealtime appends r as one real-time log record (with its
// newline, as on the Kinesis stream) carrying the given fields, which
// must be in CloudFront's order (see RealtimeFields). r must come from
// NextRealtime.
func (r *Record) AppendRealtime(dst []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, '\t')
		}
		dst = r.appendRealtimeField(dst, f)
	}
	return append(dst, '\n')
}

func (r *Record) appendRealtimeField(dst []byte, name string) []byte {
	switch name {
	case "timestamp":
		dst = strconv.AppendInt(dst, r.Time.Unix(), 10)
		return append(dst, '.', byte('0'+r.Millis/100), byte('0'+r.Millis/10%10), byte('0'+r.Millis%10))
	case "cs-host": // the viewer's Host header (x-host-header in standard logs)
		return append(dst, "api.example.com"...)
	case "x-host-header": // the distribution's domain (cs(Host) in standard logs)
		return append(dst, r.distribution()...)
	case "cs-uri-stem": // the path and the query
		dst = append(dst, r.Path...)
		if r.Query != "-" {
			dst = append(dst, '?')
			dst = append(dst, r.Query...)
		}
		return dst
	case "cs-user-agent":
		return append(dst, r.UA...)
	case "c-ip-version":
		return append(dst, "IPv4"...)
	case "c-country":
		return append(dst, r.Country...)
	case "cs-accept-encoding":
		return append(dst, "gzip,%20deflate,%20br"...)
	case "cs-accept":
		return append(dst, "application/json"...)
	case "cache-behavior-path-pattern":
		return append(dst, "/v1/*"...)
	case "cs-headers":
		for _, h := range r.Headers[:r.Logged] {
			dst = append(dst, h.Name...)
			dst = append(dst, ':')
			dst = append(dst, h.Value...)
			dst = append(dst, "%0A"...)
		}
		return dst
	case "cs-header-names":
		for _, h := range r.Headers {
			dst = append(dst, h.Name...)
			dst = append(dst, "%0A"...)
		}
		return dst
	case "cs-headers-count":
		return strconv.AppendInt(dst, int64(len(r.Headers)), 10)
	case "origin-fbl":
		return appendSeconds(dst, r.TTFBMs/2)
	case "origin-lbl":
		return appendSeconds(dst, r.TimeTakenMs/2)
	case "asn":
		return strconv.AppendInt(dst, int64(16509+r.Port%7), 10)
	case "cs-referer":
		return append(dst, '-')
	case "cs-cookie":
		for _, h := range r.Headers {
			if strings.EqualFold(h.Name, "cookie") {
				return append(dst, h.Value...)
			}
		}
		return append(dst, '-')
	case "primary-distribution-id", "primary-distribution-dns-name":
		return append(dst, '-')
	}
	return r.appendField(dst, name) // named as in standard logs
}

// defaultDistribution is the distribution requests go to by default.
const defaultDistribution = "d111111abcdef8.cloudfront.net"

func (r *Record) distribution() string {
	if r.Distribution == "" {
		return defaultDistribution
	}
	return r.Distribution
}
