package keymeter

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// Int128 is an exact signed 128-bit integer: the type of totals of
// counts and bytes. A parser accepts values below 2^63 and a store holds
// fewer than 2^63 events, so no total reaches 2^126, and no sum of totals
// wraps: Add and Sub panic rather than wrap. The zero value is 0.
//
// Stores compute such sums as SQL HUGEINT (DuckDB) or NUMERIC; Int128
// prints them as exact decimal integers (String, fmt's %d and %v, JSON
// numbers).
type Int128 struct {
	hi int64
	lo uint64
}

// NewInt128 returns v as an Int128.
func NewInt128(v int64) Int128 {
	return Int128{hi: v >> 63, lo: uint64(v)}
}

// Add returns a+b. It panics on overflow, which sums of totals never
// reach.
func (a Int128) Add(b Int128) Int128 {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(uint64(a.hi), uint64(b.hi), carry)
	r := Int128{hi: int64(hi), lo: lo}
	if (a.hi < 0) == (b.hi < 0) && (r.hi < 0) != (a.hi < 0) {
		panic("keymeter: Int128 overflow")
	}
	return r
}

// Sub returns a-b. It panics on overflow.
func (a Int128) Sub(b Int128) Int128 {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(uint64(a.hi), uint64(b.hi), borrow)
	r := Int128{hi: int64(hi), lo: lo}
	if (a.hi < 0) != (b.hi < 0) && (r.hi < 0) != (a.hi < 0) {
		panic("keymeter: Int128 overflow")
	}
	return r
}

// Add64 returns a+v.
func (a Int128) Add64(v int64) Int128 { return a.Add(NewInt128(v)) }

// Mul64 returns a×v. It panics on overflow.
func (a Int128) Mul64(v int64) Int128 {
	r, err := Int128FromBig(new(big.Int).Mul(a.Big(), big.NewInt(v)))
	if err != nil {
		panic("keymeter: Int128 overflow")
	}
	return r
}

// Sign returns -1, 0 or +1.
func (a Int128) Sign() int {
	switch {
	case a.hi < 0:
		return -1
	case a.hi == 0 && a.lo == 0:
		return 0
	}
	return 1
}

// IsZero reports whether a is 0.
func (a Int128) IsZero() bool { return a.hi == 0 && a.lo == 0 }

// Cmp returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Int128) Cmp(b Int128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

// Int64 returns a as an int64, and false when it does not fit.
func (a Int128) Int64() (int64, bool) {
	v := int64(a.lo)
	return v, a.hi == v>>63
}

// Big returns a as a new big.Int.
func (a Int128) Big() *big.Int {
	if v, ok := a.Int64(); ok {
		return big.NewInt(v)
	}
	x := new(big.Int).SetInt64(a.hi)
	x.Lsh(x, 64)
	return x.Add(x, new(big.Int).SetUint64(a.lo))
}

var (
	minInt128 = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
	maxInt128 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
)

// Int128FromBig returns x as an Int128, or an error when it needs more
// than 128 bits.
func Int128FromBig(x *big.Int) (Int128, error) {
	if x.IsInt64() {
		return NewInt128(x.Int64()), nil
	}
	if x.Cmp(minInt128) < 0 || x.Cmp(maxInt128) > 0 {
		return Int128{}, fmt.Errorf("%s does not fit in 128 bits", x)
	}
	lo := new(big.Int).And(x, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	hi := new(big.Int).Rsh(x, 64).Int64() // Rsh rounds towards -inf, as an arithmetic shift
	return Int128{hi: hi, lo: lo}, nil
}

// ParseInt128 parses a decimal integer.
func ParseInt128(s string) (Int128, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return NewInt128(v), nil
	}
	x, ok := new(big.Int).SetString(s, 10)
	if !ok || s == "" || s[0] == '+' {
		return Int128{}, fmt.Errorf("%q is not a decimal integer", s)
	}
	return Int128FromBig(x)
}

// String returns a's exact decimal form.
func (a Int128) String() string {
	if v, ok := a.Int64(); ok {
		return strconv.FormatInt(v, 10)
	}
	return a.Big().String()
}

// Format implements fmt.Formatter: %d prints the exact decimal form with
// the width and flags of %d, and %v and %s print String.
func (a Int128) Format(f fmt.State, verb rune) {
	switch verb {
	case 'd':
		a.Big().Format(f, 'd')
	case 'v', 's':
		io.WriteString(f, a.String())
	default:
		fmt.Fprintf(f, "%%!%c(keymeter.Int128=%s)", verb, a.String())
	}
}

// MarshalJSON encodes a as a JSON number with every digit.
func (a Int128) MarshalJSON() ([]byte, error) {
	return []byte(a.String()), nil
}

// UnmarshalJSON decodes a JSON number (or a string of digits) without
// rounding.
func (a *Int128) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := ParseInt128(s)
	if err != nil {
		return errors.New("keymeter.Int128: " + err.Error())
	}
	*a = v
	return nil
}
