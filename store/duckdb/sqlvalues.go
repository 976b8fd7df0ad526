package duckdb

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"time"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter/internal/jsontext"
)

// column reads the values of one result column (or, nested, of a child
// vector) out of the chunks of a streaming result, as the types
// keymeter.RowWriter promises. bind points it at a chunk's vector; value
// and appendJSON read row r of it.
type column struct {
	typ      bindings.Type
	internal bindings.Type // the storage of a DECIMAL or an ENUM
	scale    uint8         // of a DECIMAL
	json     bool          // a VARCHAR of the JSON type
	enum     []string      // the values of an ENUM
	size     uint64        // of an ARRAY
	names    []string      // the fields of a STRUCT, the members of a UNION
	children []*column     // element (LIST, ARRAY), fields, key and value (MAP), tag and members (UNION)

	data unsafe.Pointer
	mask unsafe.Pointer // validity bits, nil when every row is valid
}

// newColumn makes a reader for values of type lt (which stays the
// caller's to destroy).
func newColumn(lt bindings.LogicalType) (*column, error) {
	c := &column{typ: bindings.GetTypeId(lt)}
	child := func(lt bindings.LogicalType) error {
		cc, err := newColumn(lt)
		bindings.DestroyLogicalType(&lt)
		if err != nil {
			return err
		}
		c.children = append(c.children, cc)
		return nil
	}
	switch c.typ {
	case bindings.TypeBoolean, bindings.TypeTinyInt, bindings.TypeSmallInt, bindings.TypeInteger, bindings.TypeBigInt,
		bindings.TypeUTinyInt, bindings.TypeUSmallInt, bindings.TypeUInteger, bindings.TypeUBigInt,
		bindings.TypeHugeInt, bindings.TypeUHugeInt, bindings.TypeFloat, bindings.TypeDouble,
		bindings.TypeBlob, bindings.TypeBit, bindings.TypeBigNum, bindings.TypeUUID, bindings.TypeInterval,
		bindings.TypeDate, bindings.TypeTime, bindings.TypeTimeNS, bindings.TypeTimeTZ,
		bindings.TypeTimestamp, bindings.TypeTimestampTZ, bindings.TypeTimestampS, bindings.TypeTimestampMS, bindings.TypeTimestampNS,
		bindings.TypeSQLNull:
	case bindings.TypeVarchar:
		c.json = bindings.LogicalTypeGetAlias(lt) == "JSON"
	case bindings.TypeDecimal:
		c.internal, c.scale = bindings.DecimalInternalType(lt), bindings.DecimalScale(lt)
	case bindings.TypeEnum:
		c.internal = bindings.EnumInternalType(lt)
		c.enum = make([]string, bindings.EnumDictionarySize(lt))
		for i := range c.enum {
			c.enum[i] = bindings.EnumDictionaryValue(lt, bindings.IdxT(i))
		}
	case bindings.TypeList:
		return c, child(bindings.ListTypeChildType(lt))
	case bindings.TypeArray:
		c.size = uint64(bindings.ArrayTypeArraySize(lt))
		return c, child(bindings.ArrayTypeChildType(lt))
	case bindings.TypeMap:
		if err := child(bindings.MapTypeKeyType(lt)); err != nil {
			return nil, err
		}
		return c, child(bindings.MapTypeValueType(lt))
	case bindings.TypeStruct:
		for i := range bindings.StructTypeChildCount(lt) {
			c.names = append(c.names, bindings.StructTypeChildName(lt, i))
			if err := child(bindings.StructTypeChildType(lt, i)); err != nil {
				return nil, err
			}
		}
	case bindings.TypeUnion:
		c.children = append(c.children, &column{typ: bindings.TypeUTinyInt}) // the tag
		for i := range bindings.UnionTypeMemberCount(lt) {
			c.names = append(c.names, bindings.UnionTypeMemberName(lt, i))
			if err := child(bindings.UnionTypeMemberType(lt, i)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("values of type %d cannot be read: CAST them to VARCHAR", c.typ)
	}
	return c, nil
}

// bind points c (and its children) at vec.
func (c *column) bind(vec bindings.Vector) {
	c.data = bindings.VectorGetData(vec)
	c.mask = bindings.VectorGetValidity(vec)
	switch c.typ {
	case bindings.TypeList:
		c.children[0].bind(bindings.ListVectorGetChild(vec))
	case bindings.TypeArray:
		c.children[0].bind(bindings.ArrayVectorGetChild(vec))
	case bindings.TypeMap:
		entries := bindings.ListVectorGetChild(vec) // STRUCT(key, value)
		c.children[0].bind(bindings.StructVectorGetChild(entries, 0))
		c.children[1].bind(bindings.StructVectorGetChild(entries, 1))
	case bindings.TypeStruct, bindings.TypeUnion:
		for i, cc := range c.children {
			cc.bind(bindings.StructVectorGetChild(vec, bindings.IdxT(i)))
		}
	}
}

// valid reports whether row r is not NULL.
func (c *column) valid(r uint64) bool {
	if c.typ == bindings.TypeSQLNull {
		return false
	}
	if c.mask == nil {
		return true
	}
	return *(*uint64)(unsafe.Add(c.mask, r/64*8))&(1<<(r%64)) != 0
}

func at[T any](c *column, r uint64) T {
	var zero T
	return *(*T)(unsafe.Add(c.data, uintptr(r)*unsafe.Sizeof(zero)))
}

// view returns the bytes of a string_t (VARCHAR, BLOB, BIT, BIGNUM) at
// row r, pointing into the vector: copy them to keep them.
func (c *column) view(r uint64) string {
	p := unsafe.Add(c.data, uintptr(r)*16)
	n := *(*uint32)(p)
	if n <= 12 { // inlined
		return unsafe.String((*byte)(unsafe.Add(p, 4)), int(n))
	}
	return unsafe.String(*(**byte)(unsafe.Add(p, 8)), int(n))
}

// integer returns an integer of a fixed-width type as an int64, and
// whether it fits one.
func (c *column) integer(t bindings.Type, r uint64) (int64, bool) {
	switch t {
	case bindings.TypeTinyInt:
		return int64(at[int8](c, r)), true
	case bindings.TypeSmallInt:
		return int64(at[int16](c, r)), true
	case bindings.TypeInteger:
		return int64(at[int32](c, r)), true
	case bindings.TypeBigInt:
		return at[int64](c, r), true
	case bindings.TypeUTinyInt:
		return int64(at[uint8](c, r)), true
	case bindings.TypeUSmallInt:
		return int64(at[uint16](c, r)), true
	case bindings.TypeUInteger:
		return int64(at[uint32](c, r)), true
	}
	return 0, false
}

// hugeint returns a HUGEINT (or, unsigned, a UHUGEINT) at row r.
func (c *column) hugeint(r uint64, unsigned bool) *big.Int {
	p := unsafe.Add(c.data, uintptr(r)*16)
	lo, hi := *(*uint64)(p), *(*uint64)(unsafe.Add(p, 8))
	v := new(big.Int)
	if unsigned {
		v.SetUint64(hi)
	} else {
		v.SetInt64(int64(hi))
	}
	return v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(lo))
}

// decimal renders the DECIMAL at row r with its scale ("12.50").
func (c *column) decimal(b []byte, r uint64) []byte {
	var digits []byte
	neg := false
	if v, ok := c.integer(c.internal, r); ok {
		neg = v < 0
		u := uint64(v)
		if neg {
			u = -u
		}
		digits = strconv.AppendUint(nil, u, 10)
	} else {
		v := c.hugeint(r, false)
		neg = v.Sign() < 0
		digits = v.Abs(v).Append(nil, 10)
	}
	if neg {
		b = append(b, '-')
	}
	scale := int(c.scale)
	if scale == 0 {
		return append(b, digits...)
	}
	if len(digits) <= scale {
		b = append(b, "0."...)
		for range scale - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[:len(digits)-scale]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-scale:]...)
}

// timeOf returns a date, time or timestamp at row r, in UTC (a TIME on
// 0001-01-01, a TIME WITH TIME ZONE in its zone).
func (c *column) timeOf(r uint64) time.Time {
	switch c.typ {
	case bindings.TypeDate:
		return time.Unix(int64(at[int32](c, r))*86400, 0).UTC()
	case bindings.TypeTimestamp, bindings.TypeTimestampTZ:
		return time.UnixMicro(at[int64](c, r)).UTC()
	case bindings.TypeTimestampS:
		return time.Unix(at[int64](c, r), 0).UTC()
	case bindings.TypeTimestampMS:
		return time.UnixMilli(at[int64](c, r)).UTC()
	case bindings.TypeTimestampNS:
		return time.Unix(0, at[int64](c, r)).UTC()
	case bindings.TypeTime:
		return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(at[int64](c, r)) * time.Microsecond)
	case bindings.TypeTimeNS:
		return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(at[int64](c, r)))
	case bindings.TypeTimeTZ:
		// The time in microseconds in the upper 40 bits, the offset from
		// UTC, inverted from the largest (15:59:59), in the lower 24.
		bits := at[uint64](c, r)
		const maxOffset = 16*60*60 - 1
		offset := maxOffset - int(bits&(1<<24-1))
		loc := time.UTC
		if offset != 0 {
			loc = time.FixedZone("", offset)
		}
		return time.Date(1, 1, 1, 0, 0, 0, 0, loc).Add(time.Duration(bits>>24) * time.Microsecond)
	}
	return time.Time{}
}

// text renders the values that are shown as text: INTERVAL, UUID, ENUM,
// BIT.
func (c *column) text(r uint64) string {
	switch c.typ {
	case bindings.TypeInterval:
		p := unsafe.Add(c.data, uintptr(r)*16)
		return fmt.Sprintf("%d months %d days %d µs", *(*int32)(p), *(*int32)(unsafe.Add(p, 4)), *(*int64)(unsafe.Add(p, 8)))
	case bindings.TypeUUID:
		// A HUGEINT with its top bit flipped, so that UUIDs sort as text.
		p := unsafe.Add(c.data, uintptr(r)*16)
		lo, hi := *(*uint64)(p), *(*uint64)(unsafe.Add(p, 8))^(1<<63)
		var raw [16]byte
		for i := range 8 {
			raw[i] = byte(hi >> (56 - 8*i))
			raw[8+i] = byte(lo >> (56 - 8*i))
		}
		var s [36]byte
		hex.Encode(s[:8], raw[:4])
		hex.Encode(s[9:13], raw[4:6])
		hex.Encode(s[14:18], raw[6:8])
		hex.Encode(s[19:23], raw[8:10])
		hex.Encode(s[24:], raw[10:])
		s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
		return string(s[:])
	case bindings.TypeEnum:
		i, _ := c.integer(c.internal, r)
		if c.internal == bindings.TypeUBigInt {
			i = int64(at[uint64](c, r))
		}
		return c.enum[i]
	case bindings.TypeBit:
		return duckdb.Bit{Data: []byte(c.view(r))}.String()
	}
	return ""
}

// bignum decodes a BIGNUM: a 3-byte header (the length, complemented when
// negative) and the big-endian magnitude (complemented when negative).
func (c *column) bignum(r uint64) *big.Int {
	b := []byte(c.view(r))
	if len(b) < 4 {
		return new(big.Int)
	}
	mag := b[3:]
	if b[0]&0x80 != 0 {
		return new(big.Int).SetBytes(mag)
	}
	for i := range mag {
		mag[i] = ^mag[i]
	}
	v := new(big.Int).SetBytes(mag)
	return v.Neg(v)
}

// arena holds the bytes of a result's strings, a block at a time: one
// allocation for many strings instead of one each. A block is never
// written below its length, nor reused, so what is made from it stays
// valid for as long as it is referenced.
type arena struct {
	b    []byte
	next int // the size of the next block
}

// bytes returns a copy of s in the arena.
func (a *arena) bytes(s string) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	if cap(a.b)-len(a.b) < len(s) {
		a.next = min(max(a.next*2, 1<<10), 64<<10)
		a.b = make([]byte, 0, max(a.next, len(s)))
	}
	start := len(a.b)
	a.b = append(a.b, s...)
	return a.b[start:len(a.b):len(a.b)]
}

// string returns a copy of s in the arena.
func (a *arena) string(s string) string {
	if len(s) == 0 {
		return ""
	}
	b := a.bytes(s)
	return unsafe.String(&b[0], len(b))
}

// value returns row r as one of the types keymeter.RowWriter promises,
// its text copied into a.
func (c *column) value(r uint64, a *arena) any {
	if !c.valid(r) {
		return nil
	}
	switch c.typ {
	case bindings.TypeBoolean:
		return at[byte](c, r) != 0
	case bindings.TypeUBigInt:
		return at[uint64](c, r)
	case bindings.TypeHugeInt, bindings.TypeUHugeInt:
		return c.hugeint(r, c.typ == bindings.TypeUHugeInt)
	case bindings.TypeBigNum:
		return c.bignum(r)
	case bindings.TypeFloat:
		return float64(at[float32](c, r))
	case bindings.TypeDouble:
		return at[float64](c, r)
	case bindings.TypeDecimal:
		return string(c.decimal(nil, r))
	case bindings.TypeVarchar:
		if c.json {
			return json.RawMessage(a.bytes(c.view(r)))
		}
		return a.string(c.view(r))
	case bindings.TypeBlob:
		return a.bytes(c.view(r))
	case bindings.TypeDate, bindings.TypeTime, bindings.TypeTimeNS, bindings.TypeTimeTZ,
		bindings.TypeTimestamp, bindings.TypeTimestampTZ, bindings.TypeTimestampS, bindings.TypeTimestampMS, bindings.TypeTimestampNS:
		return c.timeOf(r)
	case bindings.TypeInterval, bindings.TypeUUID, bindings.TypeEnum, bindings.TypeBit:
		return c.text(r)
	case bindings.TypeUnion:
		tag := at[uint8](c.children[0], r)
		return c.children[1+int(tag)].value(r, a)
	case bindings.TypeList, bindings.TypeArray, bindings.TypeMap, bindings.TypeStruct:
		return json.RawMessage(c.appendJSON(nil, r))
	}
	if v, ok := c.integer(c.typ, r); ok {
		return v
	}
	return nil
}

// appendJSON appends row r as JSON: lists and arrays as arrays, structs
// and maps as objects (a map's keys as text), times as RFC 3339 strings,
// decimals as numbers, and the rest as keymeter prints it.
func (c *column) appendJSON(b []byte, r uint64) []byte {
	if !c.valid(r) {
		return append(b, "null"...)
	}
	switch c.typ {
	case bindings.TypeBoolean:
		return strconv.AppendBool(b, at[byte](c, r) != 0)
	case bindings.TypeUBigInt:
		return strconv.AppendUint(b, at[uint64](c, r), 10)
	case bindings.TypeHugeInt, bindings.TypeUHugeInt:
		return c.hugeint(r, c.typ == bindings.TypeUHugeInt).Append(b, 10)
	case bindings.TypeBigNum:
		return c.bignum(r).Append(b, 10)
	case bindings.TypeFloat:
		return jsontext.AppendFloat(b, float64(at[float32](c, r)))
	case bindings.TypeDouble:
		return jsontext.AppendFloat(b, at[float64](c, r))
	case bindings.TypeDecimal:
		return c.decimal(b, r)
	case bindings.TypeVarchar:
		if c.json {
			return append(b, c.view(r)...)
		}
		return jsontext.AppendString(b, c.view(r))
	case bindings.TypeBlob:
		v := c.view(r)
		b = append(b, '"')
		b = hex.AppendEncode(b, unsafe.Slice(unsafe.StringData(v), len(v)))
		return append(b, '"')
	case bindings.TypeDate, bindings.TypeTime, bindings.TypeTimeNS, bindings.TypeTimeTZ,
		bindings.TypeTimestamp, bindings.TypeTimestampTZ, bindings.TypeTimestampS, bindings.TypeTimestampMS, bindings.TypeTimestampNS:
		b = append(b, '"')
		b = c.timeOf(r).UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	case bindings.TypeInterval, bindings.TypeUUID, bindings.TypeEnum, bindings.TypeBit:
		return jsontext.AppendString(b, c.text(r))
	case bindings.TypeUnion:
		tag := at[uint8](c.children[0], r)
		return c.children[1+int(tag)].appendJSON(b, r)
	case bindings.TypeList:
		p := unsafe.Add(c.data, uintptr(r)*16) // offset, length
		off, n := *(*uint64)(p), *(*uint64)(unsafe.Add(p, 8))
		return c.children[0].appendJSONRange(b, off, n)
	case bindings.TypeArray:
		return c.children[0].appendJSONRange(b, r*c.size, c.size)
	case bindings.TypeStruct:
		b = append(b, '{')
		for i, cc := range c.children {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsontext.AppendString(b, c.names[i])
			b = append(b, ':')
			b = cc.appendJSON(b, r)
		}
		return append(b, '}')
	case bindings.TypeMap:
		p := unsafe.Add(c.data, uintptr(r)*16)
		off, n := *(*uint64)(p), *(*uint64)(unsafe.Add(p, 8))
		b = append(b, '{')
		for i := off; i < off+n; i++ {
			if i > off {
				b = append(b, ',')
			}
			if k := c.children[0].appendJSON(nil, i); len(k) > 0 && k[0] == '"' {
				b = append(b, k...)
			} else {
				b = jsontext.AppendString(b, string(k))
			}
			b = append(b, ':')
			b = c.children[1].appendJSON(b, i)
		}
		return append(b, '}')
	}
	if v, ok := c.integer(c.typ, r); ok {
		return strconv.AppendInt(b, v, 10)
	}
	return append(b, "null"...)
}

// appendJSONRange appends rows [off, off+n) as a JSON array.
func (c *column) appendJSONRange(b []byte, off, n uint64) []byte {
	b = append(b, '[')
	for i := off; i < off+n; i++ {
		if i > off {
			b = append(b, ',')
		}
		b = c.appendJSON(b, i)
	}
	return append(b, ']')
}
