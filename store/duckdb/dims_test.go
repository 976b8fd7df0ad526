package duckdb

import (
	"testing"

	"github.com/keymeter/keymeter"
)

// TestSourceDimsColumns checks what the collision check relies on: each
// source's columns exist, match its layout and follow table order.
func TestSourceDimsColumns(t *testing.T) {
	for src, cols := range sourceDimsColumns {
		if n := len(keymeter.LayoutOf(src).Dims); n != len(cols) {
			t.Errorf("%s: %d columns for %d dimensions", src, len(cols), n)
		}
		prev := -1
		for _, c := range cols {
			i, ok := dimsIndex[c]
			if !ok || i <= prev {
				t.Errorf("%s: column %q is unknown or out of table order", src, c)
			}
			prev = i
		}
	}
}
