package cloudwatch

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/keymeter/keymeter/format/internal/lex"
)

// Keys of a payload, as bits, to catch duplicates.
const (
	kMessageType = 1 << iota
	kOwner
	kLogGroup
	kLogStream
	kFilters
	kLogEvents
	kAWSLogs
)

// parsePayload reads one payload object (or, unless nested, a Lambda
// event wrapping one) into rd.env and rd.events.
func (rd *Reader) parsePayload(data []byte, nested bool) error {
	if !nested {
		rd.buf = rd.buf[:0]
	}
	s := scanner{data: data, buf: &rd.buf}
	if s.i = s.ws(0); s.i < len(data) && data[s.i] != '{' {
		if err := s.skip(0); err != nil {
			return err
		}
		return errors.New("a payload must be a JSON object")
	}
	var seen int
	var lambdaData []byte
	nFilters := 0
	var typ, owner, group, stream []byte
	err := s.object(0, "payload", func(key []byte) error {
		bit := 0
		switch string(key) {
		case "messageType":
			bit = kMessageType
		case "owner":
			bit = kOwner
		case "logGroup":
			bit = kLogGroup
		case "logStream":
			bit = kLogStream
		case "subscriptionFilters":
			bit = kFilters
		case "logEvents":
			bit = kLogEvents
		case "awslogs":
			bit = kAWSLogs
		default:
			return s.skip(0)
		}
		if seen&bit != 0 {
			return fmt.Errorf("key %q appears twice", key)
		}
		seen |= bit
		var err error
		switch bit {
		case kMessageType:
			typ, err = s.str("messageType")
		case kOwner:
			owner, err = s.str("owner")
		case kLogGroup:
			group, err = s.str("logGroup")
		case kLogStream:
			stream, err = s.str("logStream")
		case kFilters:
			err = s.array(0, "subscriptionFilters", func() error {
				v, err := s.str("subscriptionFilters[]")
				if err != nil {
					return err
				}
				if nFilters < len(rd.env.SubscriptionFilters) {
					rd.env.SubscriptionFilters[nFilters] = intern(rd.env.SubscriptionFilters[nFilters], v)
				} else {
					rd.env.SubscriptionFilters = append(rd.env.SubscriptionFilters, string(v))
				}
				nFilters++
				return nil
			})
		case kLogEvents:
			err = s.array(0, "logEvents", func() error { return rd.parseEvent(&s) })
		case kAWSLogs:
			if nested {
				return errors.New("awslogs inside awslogs")
			}
			err = s.object(1, "awslogs", func(key []byte) error {
				if string(key) != "data" {
					return s.skip(1)
				}
				if lambdaData != nil {
					return errors.New(`key "data" appears twice`)
				}
				v, err := s.str("awslogs.data")
				lambdaData = v
				return err
			})
		}
		return err
	})
	if err != nil {
		return err
	}
	if s.i = s.ws(s.i); s.i < len(data) {
		return s.errorf("unexpected data after the payload")
	}
	if seen&kAWSLogs != 0 {
		if seen != kAWSLogs {
			return errors.New("a Lambda event (awslogs) with payload keys beside it")
		}
		if lambdaData == nil {
			return errors.New("awslogs has no data")
		}
		inner, err := rd.unwrapLambda(lambdaData)
		if err != nil {
			return err
		}
		if err := rd.parsePayload(inner, true); err != nil {
			// Bad JSON inside the data does not affect the outer stream.
			return fmt.Errorf("awslogs.data: %s", err)
		}
		return nil
	}
	rd.env.SubscriptionFilters = rd.env.SubscriptionFilters[:nFilters]
	rd.env.MessageType = intern(rd.env.MessageType, typ)
	rd.env.Owner = intern(rd.env.Owner, owner)
	rd.env.LogGroup = intern(rd.env.LogGroup, group)
	rd.env.LogStream = intern(rd.env.LogStream, stream)
	switch string(typ) {
	case ControlMessage:
		rd.events = rd.events[:0]
		return nil
	case DataMessage:
	case "":
		return errors.New("no messageType")
	default:
		return fmt.Errorf("unknown messageType %q", typ)
	}
	if seen&kLogEvents == 0 {
		return errors.New("no logEvents")
	}
	return rd.checkIDs()
}

// parseEvent reads one element of logEvents.
func (rd *Reader) parseEvent(s *scanner) error {
	var e event
	var seen int
	err := s.object(1, "logEvents[]", func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			if seen&1 != 0 {
				return errors.New(`logEvents[].id appears twice`)
			}
			seen |= 1
			e.id, err = s.str("logEvents[].id")
		case "timestamp":
			if seen&2 != 0 {
				return errors.New(`logEvents[].timestamp appears twice`)
			}
			seen |= 2
			e.ts, err = s.int("logEvents[].timestamp")
		case "message":
			if seen&4 != 0 {
				return errors.New(`logEvents[].message appears twice`)
			}
			seen |= 4
			e.msg, err = s.str("logEvents[].message")
		default:
			err = s.skip(1)
		}
		return err
	})
	if err != nil {
		return err
	}
	if seen != 7 {
		return fmt.Errorf("log event %d lacks id, timestamp or message", len(rd.events)+1)
	}
	rd.events = append(rd.events, e)
	return nil
}

// checkIDs checks that every event of a data message has an ID (control
// messages have empty ones).
func (rd *Reader) checkIDs() error {
	for i, e := range rd.events {
		if len(e.id) == 0 {
			return fmt.Errorf("log event %d has an empty id", i+1)
		}
	}
	return nil
}

// intern returns old when it equals v, saving an allocation for the
// envelope values that repeat from payload to payload.
func intern(old string, v []byte) string {
	if old == string(v) {
		return old
	}
	return string(v)
}

// maxDepth bounds the nesting of values the scanner skips.
const maxDepth = 32

// scanner reads a JSON document, validating as it goes. Decoded strings
// alias data when they hold no escapes and are appended to *buf when they
// do.
type scanner struct {
	data []byte
	i    int
	buf  *[]byte
}

// errSyntax marks input that is not JSON.
var errSyntax = errors.New("invalid JSON")

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: "+format, append([]any{errSyntax, s.i}, args...)...)
}

func (s *scanner) ws(i int) int {
	for i < len(s.data) && isSpace(s.data[i]) {
		i++
	}
	return i
}

// object reads an object, calling member with each key; member must read
// the value.
func (s *scanner) object(depth int, what string, member func(key []byte) error) error {
	if depth >= maxDepth {
		return s.errorf("nested too deeply")
	}
	s.i = s.ws(s.i)
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return s.typeError(s.i, what, "an object")
	}
	s.i = s.ws(s.i + 1)
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.i = s.ws(s.i)
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return s.errorf("expected a quoted key")
		}
		key, err := s.str("key")
		if err != nil {
			return err
		}
		s.i = s.ws(s.i)
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return s.errorf("expected ':'")
		}
		s.i++
		if err := member(key); err != nil {
			return err
		}
		s.i = s.ws(s.i)
		if s.i >= len(s.data) {
			return s.errorf("unexpected end inside an object")
		}
		switch s.data[s.i] {
		case ',':
			s.i++
			continue
		case '}':
			s.i++
			return nil
		}
		return s.errorf("expected ',' or '}'")
	}
}

// array reads an array, calling elem to read each element.
func (s *scanner) array(depth int, what string, elem func() error) error {
	if depth >= maxDepth {
		return s.errorf("nested too deeply")
	}
	s.i = s.ws(s.i)
	if s.i >= len(s.data) || s.data[s.i] != '[' {
		return s.typeError(s.i, what, "an array")
	}
	s.i = s.ws(s.i + 1)
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		s.i = s.ws(s.i)
		if s.i >= len(s.data) {
			return s.errorf("unexpected end inside an array")
		}
		switch s.data[s.i] {
		case ',':
			s.i++
			continue
		case ']':
			s.i++
			return nil
		}
		return s.errorf("expected ',' or ']'")
	}
}

// skip reads and discards any value.
func (s *scanner) skip(depth int) error {
	s.i = s.ws(s.i)
	if s.i >= len(s.data) {
		return s.errorf("expected a value")
	}
	switch c := s.data[s.i]; {
	case c == '"':
		_, err := s.str("value")
		return err
	case c == '{':
		return s.object(depth+1, "value", func([]byte) error { return s.skip(depth + 1) })
	case c == '[':
		return s.array(depth+1, "value", func() error { return s.skip(depth + 1) })
	case c == '-' || lex.IsDigit(c):
		end, ok := lex.ScanJSONNumber(s.data, s.i)
		if !ok {
			return s.errorf("malformed number")
		}
		s.i = end
		return nil
	}
	for _, lit := range [...]string{"null", "true", "false"} {
		if bytes.HasPrefix(s.data[s.i:], []byte(lit)) {
			s.i += len(lit)
			return nil
		}
	}
	return s.errorf("expected a value")
}

// int reads a non-negative integer.
func (s *scanner) int(what string) (int64, error) {
	s.i = s.ws(s.i)
	start := s.i
	var n int64
	for s.i < len(s.data) && lex.IsDigit(s.data[s.i]) {
		if s.i-start >= 18 {
			return 0, fmt.Errorf("%s: number too large", what)
		}
		n = n*10 + int64(s.data[s.i]-'0')
		s.i++
	}
	if s.i == start || s.i < len(s.data) && (s.data[s.i] == '.' || s.data[s.i] == 'e' || s.data[s.i] == 'E') {
		return 0, s.typeError(start, what, "a non-negative integer")
	}
	if s.data[start] == '0' && s.i-start > 1 {
		return 0, s.errorf("malformed number")
	}
	return n, nil
}

// typeError reports a value of the wrong type at data[start:], or a
// syntax error if it is not a JSON value at all.
func (s *scanner) typeError(start int, what, want string) error {
	s.i = start
	if err := s.skip(1); err != nil {
		return err
	}
	return fmt.Errorf("%s: want %s", what, want)
}

// str reads a string and returns its decoded contents.
func (s *scanner) str(what string) ([]byte, error) {
	s.i = s.ws(s.i)
	if s.i >= len(s.data) || s.data[s.i] != '"' {
		return nil, s.typeError(s.i, what, "a string")
	}
	end, esc, problem, at := lex.ScanJSONString(s.data, s.i)
	switch problem {
	case lex.StringOK:
	case lex.StringBadUnicode:
		s.i = at + 1
		return nil, s.errorf(`invalid \u escape`)
	case lex.StringBadEscape:
		s.i = at + 1
		return nil, s.errorf("invalid escape")
	case lex.StringControlChar:
		s.i = at
		return nil, s.errorf("control character in a string")
	default:
		return nil, s.errorf("unterminated string")
	}
	v := s.data[s.i+1 : end-1 : end-1]
	s.i = end
	if !esc {
		return v, nil
	}
	b := len(*s.buf)
	*s.buf = lex.UnquoteJSON(*s.buf, v)
	return (*s.buf)[b:len(*s.buf):len(*s.buf)], nil
}
