package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// MaxLineLen is the longest line keymeter reads. CloudFront does not log
// requests with more than 20 KB of headers or an 8 KB URL, so real lines
// stay far below it; a longer line is rejected, not read into memory.
const MaxLineLen = 1 << 20

// errLineTooLong marks a line longer than MaxLineLen.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineLen)

// lineTooLong is errLineTooLong with the line's length.
type lineTooLong struct{ n int64 }

func (e *lineTooLong) Error() string        { return errLineTooLong.Error() }
func (e *lineTooLong) Is(target error) bool { return target == errLineTooLong }

// lineReader yields the lines of a stream without allocating per line.
type lineReader struct {
	r    *bufio.Reader
	long []byte // a line that did not fit in r's buffer
}

func newLineReader(r io.Reader) *lineReader {
	return newLineReaderFrom(bufio.NewReaderSize(r, 256<<10))
}

// newLineReaderFrom reads the lines of br, whose buffer holds the
// longest line read without copying.
func newLineReaderFrom(br *bufio.Reader) *lineReader {
	return &lineReader{r: br}
}

// next returns the next line without its terminator, valid until the next
// call; the last line may lack one. At the end of the stream it returns
// io.EOF; when the stream fails it returns the error with what it read of
// the last line, which was not terminated. A line over MaxLineLen comes
// back empty with errLineTooLong (a *lineTooLong with its length), and
// reading can continue.
func (l *lineReader) next() (line []byte, err error) {
	b, err := l.r.ReadSlice('\n')
	if err == nil {
		return dropEOL(b), nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err == io.EOF && len(b) > 0 {
			return b, nil // last line without a newline
		}
		return b, err
	}
	l.long = append(l.long[:0], b...)
	for {
		b, err = l.r.ReadSlice('\n')
		if len(l.long)+len(b) > MaxLineLen {
			n := int64(len(l.long) + len(b))
			l.long = l.long[:0]
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of the line
				b, err = l.r.ReadSlice('\n')
				n += int64(len(b))
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			if err == nil {
				n-- // the newline
			}
			return nil, &lineTooLong{n}
		}
		l.long = append(l.long, b...)
		switch {
		case err == nil:
			return dropEOL(l.long), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return l.long, nil
		default:
			return l.long, err
		}
	}
}

func dropEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// decompress returns a reader of r's content, gunzipping it when it starts
// with the gzip magic number. Concatenated gzip members are read as one
// stream.
func decompress(r *bufio.Reader) (io.Reader, error) {
	magic, err := r.Peek(2)
	if err != nil && err != io.EOF {
		return nil, err
	}
	if !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return r, nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return zr, nil
}

// readError describes a stream failure for people.
func readError(err error) string {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated: the data ends in the middle of a compressed stream (unexpected EOF)"
	case errors.Is(err, gzip.ErrChecksum):
		return "corrupt: gzip checksum mismatch"
	case errors.Is(err, gzip.ErrHeader):
		return "corrupt: invalid gzip header"
	}
	return err.Error()
}
