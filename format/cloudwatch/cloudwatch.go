// Package cloudwatch decodes the envelopes CloudWatch Logs delivers log
// events in, so that the log lines inside can be handed to a line parser
// (format/apigateway for API Gateway access logs).
//
// Two deliveries are read:
//
//   - Subscription-filter payloads (Reader): gzip-compressed JSON,
//     {"messageType":"DATA_MESSAGE","owner":...,"logGroup":...,
//     "logStream":...,"subscriptionFilters":[...],"logEvents":[{"id":...,
//     "timestamp":<ms>,"message":...}]}. A Kinesis record's data is one
//     such gzip blob; a Lambda subscription receives it base64-encoded in
//     {"awslogs":{"data":"..."}}; Firehose writes S3 objects of
//     concatenated gzip members holding concatenated JSON objects with no
//     separator. The Reader takes any of these, compressed or not, and
//     yields the log events in order. CONTROL_MESSAGE payloads (the health
//     checks CloudWatch Logs sends to a new destination) yield nothing.
//   - Export-to-S3 objects (ParseExportLine): gzip files of
//     "<ISO-8601 UTC time> <message>" lines. The layout is not formally
//     specified by AWS (it is the one observed, and emulated by moto).
//     An export prefix also holds an "aws-logs-write-test" object that is
//     not a log; skip it by name.
//
// # Contract with ingest
//
// The record to give the line parser is LogEvent.Message: the log line
// exactly as the service wrote it, JSON-unescaped. LogEvent.ID is
// CloudWatch's unique ID of the event; ingest does not use it: export
// lines do not carry it, and the request ID the line carries already
// identifies an event delivered twice (Kinesis, Lambda and Firehose
// retry). LogEvent.Timestamp is CloudWatch's event time, close to
// ingestion; it is not the request time, which comes from the line
// itself. Envelope names the log group and stream, for provenance and for
// telling apart APIs that log to different groups.
//
// The package does no I/O of its own beyond reading the io.Reader it is
// given, and keeps no per-event allocations: events alias the reader's
// buffers and are valid until the next call to Next.
package cloudwatch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// Message types of subscription-filter payloads.
const (
	DataMessage    = "DATA_MESSAGE"
	ControlMessage = "CONTROL_MESSAGE"
)

// Errors the Reader returns, wrapped with details.
var (
	// ErrBadPayload means one payload was well-formed JSON but not a usable
	// subscription-filter payload. The Reader skips it and goes on.
	ErrBadPayload = errors.New("not a usable CloudWatch Logs subscription payload")
	// ErrFormat means the input is none of the forms the Reader knows.
	ErrFormat = errors.New("not gzip, base64 gzip or JSON")
)

// Envelope is what a subscription-filter payload says about its events.
type Envelope struct {
	MessageType         string // DataMessage or ControlMessage
	Owner               string // AWS account ID ("CloudwatchLogs" for control messages)
	LogGroup            string
	LogStream           string
	SubscriptionFilters []string
}

// LogEvent is one CloudWatch Logs event. Its slices alias the Reader's
// buffers, and Envelope points into the Reader: all are valid until the
// next call to Next.
type LogEvent struct {
	// ID is CloudWatch's unique ID of the event (a 56-digit string),
	// the same in every delivery of the event. Export lines lack it.
	ID []byte
	// Timestamp is CloudWatch's event time in Unix milliseconds. It is not
	// the time of the request the message describes.
	Timestamp int64
	// Message is the log line, JSON-unescaped.
	Message []byte
	// Envelope describes the payload the event came from.
	Envelope *Envelope
}

// Reader reads the log events of a stream of subscription-filter
// payloads. The stream may be gzip-compressed (one member or several),
// base64-encoded gzip, or plain JSON; it holds one or more JSON objects,
// each a payload or a Lambda event {"awslogs":{"data":"<base64 gzip>"}},
// with or without whitespace between them.
//
// Only one payload is held in memory at a time: payloads are cut from the
// stream by tracking strings and brackets, then validated as they are
// decoded (this reads each byte once, where encoding/json's Decoder would
// scan it twice and allocate a buffer per stream). A payload that is not
// JSON ends the stream, since what follows it cannot be trusted.
//
// A Reader is not safe for concurrent use. Reuse one with Reset or
// ResetBytes to keep its buffers.
type Reader struct {
	br     *bufio.Reader
	bytes  bytes.Reader // for ResetBytes
	gz     gzip.Reader
	split  splitter
	err    error // sticky: the stream cannot be read further
	opened bool
	n      int // payloads read

	env    Envelope
	events []event
	next   int
	buf    []byte // decoded strings of the current payload

	// Lambda events.
	b64     []byte
	inner   []byte
	innerGz gzip.Reader
	innerRd bytes.Reader
}

// event is one log event of the current payload.
type event struct {
	id, msg []byte
	ts      int64
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	rd := &Reader{}
	rd.Reset(r)
	return rd
}

// Reset makes rd read from r, keeping its buffers.
func (rd *Reader) Reset(r io.Reader) {
	if rd.br == nil {
		rd.br = bufio.NewReaderSize(r, 64<<10)
	} else {
		rd.br.Reset(r)
	}
	rd.err, rd.opened, rd.n = nil, false, 0
	rd.events, rd.next = rd.events[:0], 0
}

// ResetBytes makes rd read b: a Kinesis record's data, a Lambda event, or
// any other single delivery.
func (rd *Reader) ResetBytes(b []byte) {
	rd.bytes.Reset(b)
	rd.Reset(&rd.bytes)
}

// Next returns the next log event. It returns io.EOF at the end of the
// stream. An error wrapping ErrBadPayload reports a payload that was
// skipped, and Next may be called again to go on with the next one; any
// other error ends the stream, and Next returns it again on later calls.
// A stream cut short (a truncated gzip member, say) yields the events of
// every complete payload before the error.
func (rd *Reader) Next() (LogEvent, error) {
	for rd.next >= len(rd.events) {
		if rd.err != nil {
			return LogEvent{}, rd.err
		}
		if err := rd.readPayload(); err != nil {
			if !errors.Is(err, ErrBadPayload) {
				rd.err = err
			}
			return LogEvent{}, err
		}
	}
	e := &rd.events[rd.next]
	rd.next++
	return LogEvent{ID: e.id, Timestamp: e.ts, Message: e.msg, Envelope: &rd.env}, nil
}

// open looks at the start of the stream to choose how to decode it.
func (rd *Reader) open() error {
	rd.opened = true
	for {
		c, err := rd.br.ReadByte()
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return err
		}
		if !isSpace(c) {
			rd.br.UnreadByte()
			break
		}
	}
	head, _ := rd.br.Peek(4)
	var src io.Reader
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		if err := rd.gz.Reset(rd.br); err != nil {
			return fmt.Errorf("open gzip: %w", err)
		}
		src = &rd.gz
	case bytes.HasPrefix(head, []byte("H4sI")): // base64 of a gzip header
		if err := rd.gz.Reset(base64.NewDecoder(base64.StdEncoding, rd.br)); err != nil {
			return fmt.Errorf("open base64 gzip: %w", err)
		}
		src = &rd.gz
	case len(head) >= 1 && head[0] == '{':
		src = rd.br
	default:
		return fmt.Errorf("%w: starts with %q", ErrFormat, head)
	}
	rd.split.reset(src)
	return nil
}

// readPayload decodes the next JSON object of the stream into rd.events.
func (rd *Reader) readPayload() error {
	rd.events, rd.next = rd.events[:0], 0
	if !rd.opened {
		if err := rd.open(); err != nil {
			return err
		}
	}
	raw, err := rd.split.next()
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("payload %d: %w", rd.n+1, err)
	}
	rd.n++
	if err := rd.parsePayload(raw, false); err != nil {
		rd.events = rd.events[:0]
		if errors.Is(err, errSyntax) {
			// The stream is not JSON: what follows cannot be trusted.
			return fmt.Errorf("payload %d: %w", rd.n, err)
		}
		return fmt.Errorf("%w: payload %d: %w", ErrBadPayload, rd.n, err)
	}
	return nil
}

// unwrapLambda decodes the data of a Lambda event, base64 gzip of one
// payload, into rd.inner.
func (rd *Reader) unwrapLambda(data []byte) ([]byte, error) {
	n := base64.StdEncoding.DecodedLen(len(data))
	if cap(rd.b64) < n {
		rd.b64 = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(rd.b64[:n], data)
	if err != nil {
		return nil, fmt.Errorf("awslogs.data: %w", err)
	}
	rd.innerRd.Reset(rd.b64[:n])
	if err := rd.innerGz.Reset(&rd.innerRd); err != nil {
		return nil, fmt.Errorf("awslogs.data: %w", err)
	}
	rd.inner = rd.inner[:0]
	for {
		if len(rd.inner) >= MaxPayloadSize {
			return nil, fmt.Errorf("awslogs.data: decompresses to more than %d bytes", MaxPayloadSize)
		}
		if len(rd.inner) == cap(rd.inner) {
			rd.inner = append(rd.inner, 0)[:len(rd.inner)]
		}
		m, err := rd.innerGz.Read(rd.inner[len(rd.inner):cap(rd.inner)])
		rd.inner = rd.inner[:len(rd.inner)+m]
		if err == io.EOF {
			return rd.inner, nil
		}
		if err != nil {
			return nil, fmt.Errorf("awslogs.data: %w", err)
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}
