package duckdb

import (
	"fmt"
	"math/big"

	"github.com/keymeter/keymeter"
)

// int128 scans an integer column (HUGEINT, BIGINT, ...) into a
// keymeter.Int128: sums of counts and bytes are HUGEINT in SQL, which
// duckdb-go returns as *big.Int. NULL scans as 0.
type int128 struct{ dst *keymeter.Int128 }

// Scan implements sql.Scanner.
func (s int128) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.dst = keymeter.Int128{}
	case *big.Int:
		x, err := keymeter.Int128FromBig(v)
		if err != nil {
			return err
		}
		*s.dst = x
	case int64:
		*s.dst = keymeter.NewInt128(v)
	case int32:
		*s.dst = keymeter.NewInt128(int64(v))
	case uint64:
		x, _ := keymeter.Int128FromBig(new(big.Int).SetUint64(v))
		*s.dst = x
	default:
		return fmt.Errorf("scan %T into an Int128", src)
	}
	return nil
}
