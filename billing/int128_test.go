package billing

import "github.com/keymeter/keymeter"

// raw turns raw quantities by meter into the totals Rate takes.
func raw(m map[string]int64) map[string]keymeter.Int128 {
	out := make(map[string]keymeter.Int128, len(m))
	for k, v := range m {
		out[k] = keymeter.NewInt128(v)
	}
	return out
}

// rawBy is raw for quantities by customer, then meter.
func rawBy(m map[string]map[string]int64) map[string]map[string]keymeter.Int128 {
	out := make(map[string]map[string]keymeter.Int128, len(m))
	for k, v := range m {
		out[k] = raw(v)
	}
	return out
}

func i128(v int64) keymeter.Int128 { return keymeter.NewInt128(v) }
