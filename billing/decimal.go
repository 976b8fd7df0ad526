package billing

import (
	"math/big"
	"strconv"
	"strings"

	"github.com/keymeter/keymeter"
)

// Decimal is an exact decimal number: an arbitrary-precision integer
// coefficient scaled by a power of ten, coef × 10^-scale. The zero value
// is 0. A Decimal is immutable: every operation returns a new value, so
// Decimals may be copied and shared freely.
//
// The scale is kept as written or as produced ("1.50" stays "1.50"), and
// String shows it; Cmp and Equal compare values ("1.50" equals "1.5");
// Reduce drops trailing zeros.
type Decimal struct {
	coef  *big.Int // nil means zero; never modified once set
	scale int32    // digits after the decimal point, ≥ 0
}

// Limits on parsed decimals, so that a config file cannot ask for a
// number with millions of digits.
const (
	maxScale  = 1000 // digits after the decimal point
	maxDigits = 1000 // digits before the decimal point
)

var bigTen = big.NewInt(10)

// pow10 returns 10^n as a new big.Int.
func pow10(n int32) *big.Int {
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

// NewDecimal returns coef × 10^-scale. A negative scale multiplies.
func NewDecimal(coef int64, scale int32) Decimal {
	return decimalOf(big.NewInt(coef), scale)
}

// decimalOf returns c × 10^-scale, taking ownership of c.
func decimalOf(c *big.Int, scale int32) Decimal {
	if scale < 0 {
		c.Mul(c, pow10(-scale))
		scale = 0
	}
	if c.Sign() == 0 {
		return Decimal{scale: scale}
	}
	return Decimal{coef: c, scale: scale}
}

// DecimalFromInt returns n as a Decimal with scale 0.
func DecimalFromInt(n int64) Decimal { return NewDecimal(n, 0) }

// ParseDecimal parses a decimal number: an optional sign, digits with an
// optional decimal point, and an optional exponent ("3.5e-6"). The scale
// of the result is the number of digits after the point, adjusted by the
// exponent. Spaces, underscores, thousands separators, "Inf" and "NaN"
// are refused. The error is an EINVALID *keymeter.Error.
func ParseDecimal(s string) (Decimal, error) {
	d, ok := parseDecimal(s)
	if !ok {
		return Decimal{}, keymeter.Errorf(keymeter.EINVALID, "%q is not a decimal number", s)
	}
	return d, nil
}

// MustParseDecimal is ParseDecimal for constants; it panics on a bad one.
func MustParseDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

func parseDecimal(s string) (Decimal, bool) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var digits strings.Builder
	intDigits, fracDigits := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits.WriteByte(s[i])
		intDigits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits.WriteByte(s[i])
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return Decimal{}, false
	}
	exp := int64(0)
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		start := i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return Decimal{}, false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		e, err := strconv.ParseInt(s[start:i], 10, 32)
		if err != nil {
			return Decimal{}, false
		}
		exp = e
	}
	if i != len(s) {
		return Decimal{}, false
	}
	scale := int64(fracDigits) - exp
	if scale > maxScale || int64(intDigits)+exp > maxDigits {
		return Decimal{}, false
	}
	c, ok := new(big.Int).SetString(digits.String(), 10)
	if !ok {
		return Decimal{}, false
	}
	if neg {
		c.Neg(c)
	}
	return decimalOf(c, int32(scale)), true
}

// big returns the coefficient; callers must not modify it.
func (d Decimal) big() *big.Int {
	if d.coef == nil {
		return new(big.Int)
	}
	return d.coef
}

// Scale returns the number of digits after the decimal point.
func (d Decimal) Scale() int32 { return d.scale }

// String returns d in plain decimal notation with exactly Scale digits
// after the point: "-12.50", "0.0000035", "7". ParseDecimal(d.String())
// returns a Decimal with the same value and scale.
func (d Decimal) String() string {
	c := d.big()
	digits := new(big.Int).Abs(c).String()
	var b strings.Builder
	if c.Sign() < 0 {
		b.WriteByte('-')
	}
	if d.scale == 0 {
		b.WriteString(digits)
		return b.String()
	}
	if pad := int(d.scale) + 1 - len(digits); pad > 0 {
		digits = strings.Repeat("0", pad) + digits
	}
	cut := len(digits) - int(d.scale)
	b.WriteString(digits[:cut])
	b.WriteByte('.')
	b.WriteString(digits[cut:])
	return b.String()
}

// MarshalJSON encodes d as a JSON string, so that no reader turns it into
// a binary float.
func (d Decimal) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, d.String()), nil
}

// UnmarshalJSON accepts a JSON string or number holding a decimal.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		u, err := strconv.Unquote(s)
		if err != nil {
			return keymeter.Errorf(keymeter.EINVALID, "%s is not a decimal string", s)
		}
		s = u
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.big().Sign() }

// IsZero reports whether d is 0 (at any scale).
func (d Decimal) IsZero() bool { return d.Sign() == 0 }

// align returns the coefficients of d and e at their common scale.
func align(d, e Decimal) (a, b *big.Int, scale int32) {
	a, b = d.big(), e.big()
	switch {
	case d.scale < e.scale:
		a = new(big.Int).Mul(a, pow10(e.scale-d.scale))
		return a, b, e.scale
	case d.scale > e.scale:
		b = new(big.Int).Mul(b, pow10(d.scale-e.scale))
	}
	return a, b, d.scale
}

// Cmp compares the values of d and e: -1 if d < e, 0 if equal, +1 if d > e.
func (d Decimal) Cmp(e Decimal) int {
	a, b, _ := align(d, e)
	return a.Cmp(b)
}

// Equal reports whether d and e have the same value ("1.50" equals "1.5").
func (d Decimal) Equal(e Decimal) bool { return d.Cmp(e) == 0 }

// Add returns d + e at the larger of the two scales.
func (d Decimal) Add(e Decimal) Decimal {
	a, b, scale := align(d, e)
	return decimalOf(new(big.Int).Add(a, b), scale)
}

// Sub returns d - e at the larger of the two scales.
func (d Decimal) Sub(e Decimal) Decimal {
	a, b, scale := align(d, e)
	return decimalOf(new(big.Int).Sub(a, b), scale)
}

// Mul returns d × e exactly; the scale is the sum of the scales.
func (d Decimal) Mul(e Decimal) Decimal {
	return decimalOf(new(big.Int).Mul(d.big(), e.big()), d.scale+e.scale)
}

// Neg returns -d.
func (d Decimal) Neg() Decimal {
	return decimalOf(new(big.Int).Neg(d.big()), d.scale)
}

// Shift returns d × 10^n exactly: Shift(2) turns dollars into cents.
func (d Decimal) Shift(n int32) Decimal {
	return decimalOf(new(big.Int).Set(d.big()), d.scale-n)
}

// Max returns the larger of d and e.
func (d Decimal) Max(e Decimal) Decimal {
	if d.Cmp(e) >= 0 {
		return d
	}
	return e
}

// Min returns the smaller of d and e.
func (d Decimal) Min(e Decimal) Decimal {
	if d.Cmp(e) <= 0 {
		return d
	}
	return e
}

// Reduce returns d with trailing zeros after the point removed: "1.2500"
// becomes "1.25", "3.0" becomes "3".
func (d Decimal) Reduce() Decimal {
	if d.IsZero() {
		return Decimal{}
	}
	c := new(big.Int).Set(d.coef)
	scale := d.scale
	r := new(big.Int)
	q := new(big.Int)
	for scale > 0 {
		q.QuoRem(c, bigTen, r)
		if r.Sign() != 0 {
			break
		}
		c.Set(q)
		scale--
	}
	return Decimal{coef: c, scale: scale}
}

// IsInteger reports whether d has no fractional part.
func (d Decimal) IsInteger() bool {
	return d.Reduce().scale == 0
}

// Int64 returns d as an int64 when d is an integer that fits.
func (d Decimal) Int64() (int64, bool) {
	r := d.Reduce()
	if r.scale != 0 || !r.big().IsInt64() {
		return 0, false
	}
	return r.big().Int64(), true
}

// Round returns d rounded to places (≥ 0) digits after the point by the
// package's one rounding rule, half away from zero (see the package
// documentation). The result has exactly places digits after the point.
func (d Decimal) Round(places int32) Decimal {
	return quoRound(d.big(), pow10(d.scale), places, halfAwayFromZero)
}

// Ceil returns the smallest integer not less than d.
func (d Decimal) Ceil() Decimal {
	return quoRound(d.big(), pow10(d.scale), 0, ceiling)
}

// QuoRound returns d / e rounded half away from zero to places digits
// after the point. It panics if e is zero.
func (d Decimal) QuoRound(e Decimal, places int32) Decimal {
	// d/e = dc·10^-ds / (ec·10^-es) = dc·10^es / (ec·10^ds)
	num := new(big.Int).Mul(d.big(), pow10(e.scale))
	den := new(big.Int).Mul(e.big(), pow10(d.scale))
	return quoRound(num, den, places, halfAwayFromZero)
}

// QuoCeil returns the smallest integer not less than d / e. It panics if
// e is zero.
func (d Decimal) QuoCeil(e Decimal) Decimal {
	num := new(big.Int).Mul(d.big(), pow10(e.scale))
	den := new(big.Int).Mul(e.big(), pow10(d.scale))
	return quoRound(num, den, 0, ceiling)
}

type roundMode int

const (
	halfAwayFromZero roundMode = iota // the money rule
	ceiling                           // package counts
)

// quoRound returns num/den rounded to places (≥ 0) digits after the
// point.
func quoRound(num, den *big.Int, places int32, mode roundMode) Decimal {
	if den.Sign() == 0 {
		panic("billing: division by zero")
	}
	if places < 0 {
		panic("billing: rounding to negative places")
	}
	n := new(big.Int).Mul(num, pow10(places))
	d := new(big.Int).Set(den)
	if d.Sign() < 0 {
		n.Neg(n)
		d.Neg(d)
	}
	q, r := new(big.Int).QuoRem(n, d, new(big.Int)) // truncated toward zero
	if r.Sign() != 0 {
		switch mode {
		case halfAwayFromZero:
			twice := new(big.Int).Abs(r)
			twice.Lsh(twice, 1)
			if twice.Cmp(d) >= 0 {
				q.Add(q, big.NewInt(int64(n.Sign())))
			}
		case ceiling:
			if n.Sign() > 0 {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	if q.Sign() == 0 {
		return Decimal{scale: places}
	}
	return Decimal{coef: q, scale: places}
}

// Rat returns d as an exact big.Rat.
func (d Decimal) Rat() *big.Rat {
	return new(big.Rat).SetFrac(d.big(), pow10(d.scale))
}
