package cloudwatch

import (
	"fmt"
	"io"
)

// MaxPayloadSize bounds the size of one decompressed payload (CloudWatch
// Logs batches are at most 1 MiB of events; JSON escaping can inflate
// them a few times). Larger payloads are refused rather than buffered.
const MaxPayloadSize = 64 << 20

// splitter cuts a stream into top-level JSON values without decoding
// them: it tracks strings and bracket depth only, and leaves validation
// to the scanner. It holds one value in memory at a time, in a buffer it
// reuses.
type splitter struct {
	r     io.Reader
	buf   []byte // buf[start:] is read but not yet returned
	start int
	err   error // from r, delivered once buf is used up
	off   int64 // stream offset of buf[0], for errors
}

func (s *splitter) reset(r io.Reader) {
	s.r, s.buf, s.start, s.err, s.off = r, s.buf[:0], 0, nil, 0
}

// next returns the next value, valid until the following call, or io.EOF
// when only whitespace is left.
func (s *splitter) next() ([]byte, error) {
	i := s.start
	depth := 0
	inString, escaped := false, false
	for {
		for ; i < len(s.buf); i++ {
			c := s.buf[i]
			switch {
			case depth == 0:
				if isSpace(c) {
					s.start = i + 1
					continue
				}
				if c != '{' && c != '[' {
					return nil, fmt.Errorf("%w at byte %d: want an object, found %q", errSyntax, s.off+int64(i), c)
				}
				depth = 1
			case inString:
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					v := s.buf[s.start : i+1]
					s.start = i + 1
					return v, nil
				}
			}
		}
		if s.err != nil {
			if s.err == io.EOF {
				if depth == 0 {
					return nil, io.EOF
				}
				return nil, fmt.Errorf("the stream ends inside a payload: %w", io.ErrUnexpectedEOF)
			}
			return nil, s.err
		}
		// Keep the value begun so far, drop what was returned before.
		if s.start > 0 {
			n := copy(s.buf, s.buf[s.start:])
			i -= s.start
			s.off += int64(s.start)
			s.buf, s.start = s.buf[:n], 0
		}
		if len(s.buf) >= MaxPayloadSize {
			return nil, fmt.Errorf("a payload is larger than %d bytes", MaxPayloadSize)
		}
		if len(s.buf) == cap(s.buf) {
			s.buf = append(s.buf, make([]byte, max(len(s.buf), 32<<10))...)[:len(s.buf)]
		}
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		s.err = err
	}
}
