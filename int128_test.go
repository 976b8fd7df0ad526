package keymeter_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/keymeter/keymeter"
)

func TestInt128(t *testing.T) {
	big18 := keymeter.NewInt128(999999999999999999)
	var sum keymeter.Int128
	for range 12 {
		sum = sum.Add(big18)
	}
	if got := sum.String(); got != "11999999999999999988" {
		t.Errorf("12 × 999999999999999999 = %s", got)
	}
	if got := fmt.Sprintf("%d|%v|%5d|%+v", sum, sum, keymeter.NewInt128(42), struct{ N keymeter.Int128 }{sum}); got != "11999999999999999988|11999999999999999988|   42|{N:11999999999999999988}" {
		t.Errorf("Sprintf: %s", got)
	}
	if _, ok := sum.Int64(); ok {
		t.Error("Int64 of a sum beyond 64 bits reports ok")
	}
	if v, ok := sum.Sub(sum).Add64(-5).Int64(); !ok || v != -5 {
		t.Errorf("-5: %d %v", v, ok)
	}
	b, err := json.Marshal(struct{ N keymeter.Int128 }{sum})
	if err != nil || string(b) != `{"N":11999999999999999988}` {
		t.Errorf("json: %s %v", b, err)
	}
	var back struct{ N keymeter.Int128 }
	if err := json.Unmarshal(b, &back); err != nil || back.N != sum {
		t.Errorf("json back: %v %v", back.N, err)
	}
	if err := json.Unmarshal([]byte(`{"N":1.5}`), &back); err == nil {
		t.Error("1.5 decoded as an integer")
	}
	maxV, _ := keymeter.ParseInt128("170141183460469231731687303715884105727")
	func() {
		defer func() {
			if recover() == nil {
				t.Error("overflow did not panic")
			}
		}()
		maxV.Add64(1)
	}()
	if _, err := keymeter.ParseInt128("170141183460469231731687303715884105728"); err == nil {
		t.Error("2^127 parsed")
	}
}

// FuzzInt128 checks Int128's arithmetic against math/big.
func FuzzInt128(f *testing.F) {
	f.Add(int64(1), int64(2), int64(-3), uint8(5))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MinInt64), uint8(40))
	f.Fuzz(func(t *testing.T, a, b, c int64, n uint8) {
		var x keymeter.Int128
		want := new(big.Int)
		for i := range int(n) {
			v := []int64{a, b, c}[i%3]
			x = x.Add64(v)
			want.Add(want, big.NewInt(v))
			if i%4 == 3 {
				x = x.Sub(keymeter.NewInt128(c))
				want.Sub(want, big.NewInt(c))
			}
		}
		if x.String() != want.String() || x.Big().Cmp(want) != 0 || x.Sign() != want.Sign() {
			t.Fatalf("got %s, want %s", x, want)
		}
		y, err := keymeter.Int128FromBig(want)
		if err != nil || y != x {
			t.Fatalf("FromBig(%s) = %s, %v", want, y, err)
		}
		if p, err := keymeter.ParseInt128(want.String()); err != nil || p != x || p.Cmp(x) != 0 {
			t.Fatalf("Parse(%s) = %s, %v", want, p, err)
		}
	})
}
