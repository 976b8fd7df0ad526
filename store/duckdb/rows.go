package duckdb

import (
	"fmt"
	"time"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter"
)

// Rows reach event_rows through one statement per transaction,
//
//	INSERT INTO event_rows SELECT * FROM keymeter_rows()
//
// where keymeter_rows is a parallel table function fed by the writer with
// chunks of deduplicated rows. DuckDB runs the insert on all its threads,
// each compressing and writing its own row groups, which makes it about
// twice as fast as a single appender on two cores. The function fills
// DuckDB's vectors through duckdb-go's public typed setters.

// chunkRows is the number of rows in a chunk: DuckDB's vector size.
const chunkRows = 2048

// Column positions in event_rows.
const (
	colSource = iota
	colTS
	colIDHi
	colIDLo
	colKeyID
	colAttribution
	colDims
	colClient
	colPath
	colStatus
	colBytesSent
	colBytesReceived
	colTimeTaken
	colTTFB
	colPort
	colFLE
	colContentLen
	colRangeStart
	colRangeEnd
	colLoad
	colRest
	numCols
)

// columnTypes are the types of event_rows, by position.
var columnTypes = [numCols]duckdb.Type{
	colSource: duckdb.TYPE_UTINYINT, colTS: duckdb.TYPE_TIMESTAMP, colIDHi: duckdb.TYPE_BIGINT,
	colIDLo: duckdb.TYPE_BIGINT, colKeyID: duckdb.TYPE_BIGINT, colAttribution: duckdb.TYPE_UTINYINT,
	colDims: duckdb.TYPE_BIGINT, colClient: duckdb.TYPE_BIGINT, colPath: duckdb.TYPE_BIGINT,
	colStatus: duckdb.TYPE_SMALLINT, colBytesSent: duckdb.TYPE_BIGINT, colBytesReceived: duckdb.TYPE_BIGINT,
	colTimeTaken: duckdb.TYPE_INTEGER, colTTFB: duckdb.TYPE_INTEGER, colPort: duckdb.TYPE_INTEGER,
	colFLE: duckdb.TYPE_INTEGER, colContentLen: duckdb.TYPE_BIGINT, colRangeStart: duckdb.TYPE_BIGINT,
	colRangeEnd: duckdb.TYPE_BIGINT, colLoad: duckdb.TYPE_UINTEGER, colRest: duckdb.TYPE_VARCHAR,
}

// rowChunk holds up to chunkRows rows column by column. Optional values
// are -1 when null, as in keymeter.Row.
type rowChunk struct {
	n          int
	source     [chunkRows]uint8
	ts         [chunkRows]int64
	idHi       [chunkRows]int64
	idLo       [chunkRows]int64
	keyID      [chunkRows]int64 // 0 is null
	attr       [chunkRows]uint8
	dims       [chunkRows]int64
	client     [chunkRows]int64
	path       [chunkRows]int64
	status     [chunkRows]int16
	bytesSent  [chunkRows]int64
	bytesRecv  [chunkRows]int64
	timeTaken  [chunkRows]int32
	ttfb       [chunkRows]int32
	port       [chunkRows]int32
	fle        [chunkRows]int32
	contentLen [chunkRows]int64
	rangeStart [chunkRows]int64
	rangeEnd   [chunkRows]int64
	load       [chunkRows]uint32
	restEnd    [chunkRows]uint32
	rest       []byte
	// FillChunk's scratch: the times and the rest columns' values.
	times [chunkRows]time.Time
	rests [chunkRows][]byte
}

// add appends a row; hashes become BIGINT bit for bit, and the row's
// strings valid UTF-8 by keymeter's rule (see keymeter.AppendValidUTF8):
// DuckDB would make a VARCHAR that is not NULL.
func (c *rowChunk) add(src keymeter.Source, r *keymeter.Row, rest []byte, load uint32) {
	i := c.n
	c.source[i] = uint8(src)
	c.ts[i] = r.Time
	c.idHi[i] = int64(r.ID[0])
	c.idLo[i] = int64(r.ID[1])
	c.keyID[i] = int64(r.KeyID)
	c.attr[i] = uint8(r.Attribution)
	c.dims[i] = int64(r.Dims)
	c.client[i] = int64(r.Client)
	c.path[i] = int64(r.Path)
	c.status[i] = int16(r.Status)
	if r.Status < 0 || r.Status > 1<<15-1 {
		c.status[i] = -1
	}
	c.bytesSent[i] = r.BytesSent
	c.bytesRecv[i] = r.BytesRecv
	c.timeTaken[i] = r.TimeTaken
	c.ttfb[i] = r.TTFB
	c.port[i] = r.ClientPort
	c.fle[i] = r.FLEEncrypt
	c.contentLen[i] = r.ContentLen
	c.rangeStart[i] = r.RangeStart
	c.rangeEnd[i] = r.RangeEnd
	c.load[i] = load
	if utf8.Valid(rest) {
		c.rest = append(c.rest, rest...)
	} else {
		c.rest = keymeter.AppendValidUTF8(c.rest, rest)
	}
	c.restEnd[i] = uint32(len(c.rest))
	c.n++
}

func (c *rowChunk) reset() {
	c.n = 0
	c.rest = c.rest[:0]
}

// rowSource is the table source of one INSERT statement: it hands DuckDB
// the chunks the writer sends until the channel is closed.
type rowSource struct {
	chunks  <-chan *rowChunk
	free    chan<- *rowChunk
	threads int
}

var _ duckdb.ParallelChunkTableSource = (*rowSource)(nil)

var rowColumns = func() []duckdb.ColumnInfo {
	cols := make([]duckdb.ColumnInfo, numCols)
	for i, t := range columnTypes {
		ti, err := duckdb.NewTypeInfo(t)
		if err != nil {
			panic(err)
		}
		cols[i] = duckdb.ColumnInfo{Name: fmt.Sprintf("c%d", i), T: ti}
	}
	return cols
}()

func (s *rowSource) ColumnInfos() []duckdb.ColumnInfo     { return rowColumns }
func (s *rowSource) Cardinality() *duckdb.CardinalityInfo { return nil }
func (s *rowSource) NewLocalState() any                   { return new(struct{}) }
func (s *rowSource) Init() duckdb.ParallelTableSourceInfo {
	return duckdb.ParallelTableSourceInfo{MaxThreads: s.threads}
}

// FillChunk copies the next chunk of rows into DuckDB's output chunk; it
// runs on DuckDB's threads, several at a time. It goes through
// duckdb-go's public, typed setters (SetChunkValue), column by column.
func (s *rowSource) FillChunk(_ any, out duckdb.DataChunk) error {
	c, ok := <-s.chunks
	if !ok {
		return out.SetSize(0)
	}
	defer func() {
		c.reset()
		s.free <- c
	}()
	if got := out.ColumnCount(); got != numCols {
		return fmt.Errorf("keymeter_rows: output has %d columns, want %d", got, numCols)
	}
	n := c.n
	ts, rest := c.times[:n], c.rests[:n]
	for i, t := range c.ts[:n] {
		ts[i] = time.UnixMicro(t).UTC()
	}
	start := uint32(0)
	for i := range n {
		rest[i] = c.rest[start:c.restEnd[i]]
		start = c.restEnd[i]
	}
	for _, err := range []error{
		fill(out, colSource, c.source[:n]),
		fill(out, colTS, ts),
		fill(out, colIDHi, c.idHi[:n]),
		fill(out, colIDLo, c.idLo[:n]),
		fillOpt(out, colKeyID, c.keyID[:n], 0),
		fill(out, colAttribution, c.attr[:n]),
		fill(out, colDims, c.dims[:n]),
		fill(out, colClient, c.client[:n]),
		fill(out, colPath, c.path[:n]),
		fillOpt(out, colStatus, c.status[:n], -1),
		fillOpt(out, colBytesSent, c.bytesSent[:n], -1),
		fillOpt(out, colBytesReceived, c.bytesRecv[:n], -1),
		fillOpt(out, colTimeTaken, c.timeTaken[:n], -1),
		fillOpt(out, colTTFB, c.ttfb[:n], -1),
		fillOpt(out, colPort, c.port[:n], -1),
		fillOpt(out, colFLE, c.fle[:n], -1),
		fillOpt(out, colContentLen, c.contentLen[:n], -1),
		fillOpt(out, colRangeStart, c.rangeStart[:n], -1),
		fillOpt(out, colRangeEnd, c.rangeEnd[:n], -1),
		fill(out, colLoad, c.load[:n]),
		fill(out, colRest, rest),
	} {
		if err != nil {
			return err
		}
	}
	return out.SetSize(n)
}

// fill sets column col of out to vals.
func fill[T any](out duckdb.DataChunk, col int, vals []T) error {
	for i, v := range vals {
		if err := duckdb.SetChunkValue(out, col, i, v); err != nil {
			return fmt.Errorf("keymeter_rows: column %d, row %d: %w", col, i, err)
		}
	}
	return nil
}

// fillOpt sets column col of out to vals, those equal to null as NULL.
func fillOpt[T int16 | int32 | int64](out duckdb.DataChunk, col int, vals []T, null T) error {
	for i, v := range vals {
		var err error
		if v == null {
			err = out.SetValue(col, i, nil)
		} else {
			err = duckdb.SetChunkValue(out, col, i, v)
		}
		if err != nil {
			return fmt.Errorf("keymeter_rows: column %d, row %d: %w", col, i, err)
		}
	}
	return nil
}
