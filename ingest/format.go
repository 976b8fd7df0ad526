package ingest

import (
	"io"
	"sort"
	"strings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
)

// Parser parses the records of one object into events. Parsers may keep
// state between records (a CloudFront #Fields line sets the layout of the
// lines after it), so each object gets its own.
type Parser interface {
	// Parse parses one record. It returns false and a nil error for
	// records that are not events (headers, comments, control messages),
	// true when ev holds an event, and an error (ideally a
	// *keymeter.ParseError) when the record must be rejected.
	Parse(record []byte, ev *keymeter.Event) (bool, error)
}

// RecordReader splits an object's content into records.
type RecordReader interface {
	// Next returns the next record, valid until the next call, or io.EOF
	// at the end. A *keymeter.ParseError rejects one record (the one
	// returned with it, if any) and reading goes on. Other errors mean the
	// content could not be read further; the record returned with them,
	// if any, is incomplete.
	Next() ([]byte, error)
}

// Format is a log format ingest can read.
type Format struct {
	Name   string // as given to keymeter ingest --format
	Source keymeter.Source
	// NewParser returns a parser for one object.
	NewParser func(cfg *Config) (Parser, error)
	// NewRecords splits an object's decompressed content into records;
	// nil means one record per line.
	NewRecords func(r io.Reader) RecordReader
	// Skip, when set, returns why an object is not read, judging by its
	// URI alone, or "" to read it.
	Skip func(uri string) string
	// HeaderKeys says that records carry request headers (cs-headers), so
	// that the API key is looked for in Config.KeyHeader first.
	HeaderKeys bool
}

// formats are the formats ingest knows, by name.
var formats = map[string]Format{
	"cloudfront": {
		Name:   "cloudfront",
		Source: keymeter.SourceCloudFront,
		NewParser: func(*Config) (Parser, error) {
			return &cloudfront.Parser{}, nil
		},
	},
	// Real-time logs, from Kinesis or as Firehose delivers them to S3
	// (records concatenated, one per line). The records carry the
	// configured fields (Config.RealtimeFields) in canonical order.
	"cloudfront-realtime": {
		Name:   "cloudfront-realtime",
		Source: keymeter.SourceCloudFrontRealtime,
		NewParser: func(cfg *Config) (Parser, error) {
			return cloudfrontrt.NewParser(cfg.RealtimeFields)
		},
		HeaderKeys: true,
	},
}

// FormatNames lists the names of the formats ingest knows, sorted.
func FormatNames() []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// detect is the format of a run that detects each object's format: it
// has no parser of its own (see Ingester.choose), and skips the objects
// the API Gateway formats skip, which are not logs.
var detect = Format{Skip: skipWriteTest}

// lookupFormat returns the format with the given name; "" is detect.
func lookupFormat(name string) (Format, error) {
	if name == "" {
		return detect, nil
	}
	f, ok := formats[name]
	if !ok {
		return Format{}, keymeter.Errorf(keymeter.EINVALID, "unknown log format %q (want %s)", name, strings.Join(FormatNames(), ", "))
	}
	return f, nil
}

// lineRecords adapts a lineReader to RecordReader.
type lineRecords struct{ *lineReader }

func (l lineRecords) Next() ([]byte, error) { return l.next() }
