package duckdb

import (
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"
	"unsafe"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/keymeter/keymeter"
)

// Rows reach event_rows through one statement per transaction,
//
//	INSERT INTO event_rows SELECT * FROM keymeter_rows()
//
// where keymeter_rows is a parallel table function fed by the writer with
// chunks of deduplicated rows. DuckDB runs the insert on all its threads,
// each compressing and writing its own row groups, which makes it about
// twice as fast as a single appender on two cores. The function copies
// each column into DuckDB's vectors directly: going through duckdb-go's
// per-value setters would cost several times more per row.

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
// runs on DuckDB's threads, several at a time.
func (s *rowSource) FillChunk(_ any, out duckdb.DataChunk) error {
	c, ok := <-s.chunks
	if !ok {
		return out.SetSize(0)
	}
	defer func() {
		c.reset()
		s.free <- c
	}()
	dc, err := rawChunk(&out)
	if err != nil {
		return err
	}
	if got := int(mapping.DataChunkGetColumnCount(dc)); got != numCols {
		return fmt.Errorf("keymeter_rows: output has %d columns, want %d", got, numCols)
	}
	var vecs [numCols]mapping.Vector
	for i := range vecs {
		vecs[i] = mapping.DataChunkGetVector(dc, mapping.IdxT(i))
	}
	n := c.n
	copyCol(vecs[colSource], c.source[:n])
	copyCol(vecs[colTS], c.ts[:n])
	copyCol(vecs[colIDHi], c.idHi[:n])
	copyCol(vecs[colIDLo], c.idLo[:n])
	copyOpt(vecs[colKeyID], c.keyID[:n], 0)
	copyCol(vecs[colAttribution], c.attr[:n])
	copyCol(vecs[colDims], c.dims[:n])
	copyCol(vecs[colClient], c.client[:n])
	copyCol(vecs[colPath], c.path[:n])
	copyOpt(vecs[colStatus], c.status[:n], -1)
	copyOpt(vecs[colBytesSent], c.bytesSent[:n], -1)
	copyOpt(vecs[colBytesReceived], c.bytesRecv[:n], -1)
	copyOpt(vecs[colTimeTaken], c.timeTaken[:n], -1)
	copyOpt(vecs[colTTFB], c.ttfb[:n], -1)
	copyOpt(vecs[colPort], c.port[:n], -1)
	copyOpt(vecs[colFLE], c.fle[:n], -1)
	copyOpt(vecs[colContentLen], c.contentLen[:n], -1)
	copyOpt(vecs[colRangeStart], c.rangeStart[:n], -1)
	copyOpt(vecs[colRangeEnd], c.rangeEnd[:n], -1)
	copyCol(vecs[colLoad], c.load[:n])
	start := uint32(0)
	for i := range n {
		mapping.VectorAssignStringElementLen(vecs[colRest], mapping.IdxT(i), c.rest[start:c.restEnd[i]])
		start = c.restEnd[i]
	}
	mapping.DataChunkSetSize(dc, mapping.IdxT(n))
	return nil
}

// copyCol copies values into a vector of the same element type.
func copyCol[T any](v mapping.Vector, vals []T) {
	dst := unsafe.Slice((*T)(mapping.VectorGetData(v)), len(vals))
	copy(dst, vals)
}

// copyOpt copies values, marking those equal to null as NULL.
func copyOpt[T int16 | int32 | int64](v mapping.Vector, vals []T, null T) {
	copyCol(v, vals)
	var mask []uint64
	for i, x := range vals {
		if x != null {
			continue
		}
		if mask == nil {
			mapping.VectorEnsureValidityWritable(v)
			mask = unsafe.Slice((*uint64)(mapping.VectorGetValidity(v)), (chunkRows+63)/64)
		}
		mask[i/64] &^= 1 << (i % 64)
	}
}

// rawChunk returns the C handle of a duckdb-go data chunk. duckdb-go keeps
// it unexported; it is read by field name and type, and this fails loudly
// if a future duckdb-go changes them (the module is pinned, and the store
// tests cover it).
func rawChunk(c *duckdb.DataChunk) (mapping.DataChunk, error) {
	f := reflect.ValueOf(c).Elem().FieldByName("chunk")
	if !f.IsValid() || f.Type() != reflect.TypeFor[mapping.DataChunk]() {
		return mapping.DataChunk{}, errors.New("this duckdb-go version has no chunk field of type mapping.DataChunk; keymeter_rows needs updating")
	}
	return *(*mapping.DataChunk)(unsafe.Pointer(f.UnsafeAddr())), nil
}
