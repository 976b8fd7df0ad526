package duckdb

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/keymeter/keymeter"
)

// rowAppender appends event rows to event_rows through DuckDB's appender,
// writing each column straight into the data chunk's vectors. This is the
// ingest hot path: the public duckdb-go Appender boxes every value in an
// interface and costs several times more per row.
//
// It needs the connection's C handle, which duckdb-go keeps unexported;
// connHandle reads it by field name and type and fails loudly if a future
// duckdb-go changes them (the module is pinned, and TestAppender covers it).
type rowAppender struct {
	app   mapping.Appender
	chunk mapping.DataChunk
	vecs  [numCols]mapping.Vector
	data  [numCols]unsafe.Pointer
	valid [numCols][]uint64 // validity masks of the nullable columns
	n     int               // rows in the current chunk
	cap   int
}

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

// columnTypes are the DuckDB types event_rows must have, by position.
var columnTypes = [numCols]mapping.Type{
	colSource: mapping.TypeUTinyInt, colTS: mapping.TypeTimestamp, colIDHi: mapping.TypeBigInt,
	colIDLo: mapping.TypeBigInt, colKeyID: mapping.TypeBigInt, colAttribution: mapping.TypeUTinyInt,
	colDims: mapping.TypeBigInt, colClient: mapping.TypeBigInt, colPath: mapping.TypeBigInt,
	colStatus: mapping.TypeSmallInt, colBytesSent: mapping.TypeBigInt, colBytesReceived: mapping.TypeBigInt,
	colTimeTaken: mapping.TypeInteger, colTTFB: mapping.TypeInteger, colPort: mapping.TypeInteger,
	colFLE: mapping.TypeInteger, colContentLen: mapping.TypeBigInt, colRangeStart: mapping.TypeBigInt,
	colRangeEnd: mapping.TypeBigInt, colLoad: mapping.TypeUInteger, colRest: mapping.TypeVarchar,
}

// nullable lists the columns that can hold NULL.
var nullable = [...]int{colKeyID, colStatus, colBytesSent, colBytesReceived, colTimeTaken, colTTFB,
	colPort, colFLE, colContentLen, colRangeStart, colRangeEnd}

// connHandle returns the C connection handle of a duckdb-go driver
// connection.
func connHandle(dc any) (mapping.Connection, error) {
	c, ok := dc.(*duckdb.Conn)
	if !ok {
		return mapping.Connection{}, fmt.Errorf("driver connection is %T, not *duckdb.Conn", dc)
	}
	f := reflect.ValueOf(c).Elem().FieldByName("conn")
	if !f.IsValid() || f.Type() != reflect.TypeFor[mapping.Connection]() {
		return mapping.Connection{}, errors.New("this duckdb-go version has no conn field of type mapping.Connection; the raw appender needs updating")
	}
	return *(*mapping.Connection)(unsafe.Pointer(f.UnsafeAddr())), nil
}

// newRowAppender opens an appender on event_rows over the driver
// connection dc.
func newRowAppender(dc driver.Conn) (*rowAppender, error) {
	conn, err := connHandle(dc)
	if err != nil {
		return nil, err
	}
	a := &rowAppender{}
	if mapping.AppenderCreateExt(conn, "", "", "event_rows", &a.app) == mapping.StateError {
		err := errors.New(mapping.AppenderError(a.app))
		mapping.AppenderDestroy(&a.app)
		return nil, fmt.Errorf("create appender: %w", err)
	}
	if n := int(mapping.AppenderColumnCount(a.app)); n != numCols {
		mapping.AppenderDestroy(&a.app)
		return nil, fmt.Errorf("event_rows has %d columns, want %d", n, numCols)
	}
	types := make([]mapping.LogicalType, numCols)
	for i := range types {
		types[i] = mapping.AppenderColumnType(a.app, mapping.IdxT(i))
		if got := mapping.GetTypeId(types[i]); got != columnTypes[i] {
			for _, t := range types[:i+1] {
				mapping.DestroyLogicalType(&t)
			}
			mapping.AppenderDestroy(&a.app)
			return nil, fmt.Errorf("event_rows column %d has type %d, want %d", i, got, columnTypes[i])
		}
	}
	a.chunk = mapping.CreateDataChunk(types)
	for i := range types {
		mapping.DestroyLogicalType(&types[i])
	}
	a.cap = int(mapping.VectorSize())
	a.resetChunk()
	return a, nil
}

// resetChunk prepares an empty chunk and refreshes the vector pointers.
func (a *rowAppender) resetChunk() {
	mapping.DataChunkReset(a.chunk)
	for i := range a.vecs {
		a.vecs[i] = mapping.DataChunkGetVector(a.chunk, mapping.IdxT(i))
		a.data[i] = mapping.VectorGetData(a.vecs[i])
	}
	for _, c := range nullable {
		mapping.VectorEnsureValidityWritable(a.vecs[c])
		a.valid[c] = unsafe.Slice((*uint64)(mapping.VectorGetValidity(a.vecs[c])), (a.cap+63)/64)
	}
	a.n = 0
}

func put[T any](p unsafe.Pointer, i int, v T) {
	*(*T)(unsafe.Add(p, uintptr(i)*unsafe.Sizeof(v))) = v
}

func (a *rowAppender) setNull(col, i int) {
	a.valid[col][i/64] &^= 1 << (i % 64)
}

func putOpt[T int32 | int64](a *rowAppender, col, i int, v T) {
	if v < 0 {
		a.setNull(col, i)
		return
	}
	put(a.data[col], i, v)
}

// add appends one row.
func (a *rowAppender) add(src keymeter.Source, r *keymeter.Row, rest []byte, load uint32) error {
	i := a.n
	put(a.data[colSource], i, uint8(src))
	put(a.data[colTS], i, r.Time)
	put(a.data[colIDHi], i, int64(r.ID[0])) // 64-bit hashes are stored as BIGINT, bit for bit
	put(a.data[colIDLo], i, int64(r.ID[1]))
	if r.KeyID == 0 {
		a.setNull(colKeyID, i)
	} else {
		put(a.data[colKeyID], i, int64(r.KeyID))
	}
	put(a.data[colAttribution], i, uint8(r.Attribution))
	put(a.data[colDims], i, int64(r.Dims))
	put(a.data[colClient], i, int64(r.Client))
	put(a.data[colPath], i, int64(r.Path))
	if r.Status < 0 {
		a.setNull(colStatus, i)
	} else {
		put(a.data[colStatus], i, int16(r.Status))
	}
	putOpt(a, colBytesSent, i, r.BytesSent)
	putOpt(a, colBytesReceived, i, r.BytesRecv)
	putOpt(a, colTimeTaken, i, r.TimeTaken)
	putOpt(a, colTTFB, i, r.TTFB)
	putOpt(a, colPort, i, r.ClientPort)
	putOpt(a, colFLE, i, r.FLEEncrypt)
	putOpt(a, colContentLen, i, r.ContentLen)
	putOpt(a, colRangeStart, i, r.RangeStart)
	putOpt(a, colRangeEnd, i, r.RangeEnd)
	put(a.data[colLoad], i, load)
	mapping.VectorAssignStringElementLen(a.vecs[colRest], mapping.IdxT(i), rest)
	a.n++
	if a.n == a.cap {
		return a.appendChunk()
	}
	return nil
}

// appendChunk hands the current chunk to the appender.
func (a *rowAppender) appendChunk() error {
	if a.n == 0 {
		return nil
	}
	mapping.DataChunkSetSize(a.chunk, mapping.IdxT(a.n))
	if mapping.AppendDataChunk(a.app, a.chunk) == mapping.StateError {
		return fmt.Errorf("append rows: %s", mapping.AppenderError(a.app))
	}
	a.resetChunk()
	return nil
}

// flush makes every appended row visible to the connection's transaction.
func (a *rowAppender) flush() error {
	if err := a.appendChunk(); err != nil {
		return err
	}
	if mapping.AppenderFlush(a.app) == mapping.StateError {
		return fmt.Errorf("flush rows: %s", mapping.AppenderError(a.app))
	}
	return nil
}

// clear drops every row not yet flushed.
func (a *rowAppender) clear() {
	mapping.AppenderClear(a.app)
	a.resetChunk()
}

// close releases the appender without flushing.
func (a *rowAppender) close() {
	mapping.DestroyDataChunk(&a.chunk)
	mapping.AppenderDestroy(&a.app)
}
