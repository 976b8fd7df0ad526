package duckdb

import (
	"fmt"

	"github.com/keymeter/keymeter"
)

// sourceDimsColumns names, for sources whose Dims are not CloudFront's,
// the dict_dims column of each field of keymeter.LayoutOf(source).Dims,
// in layout order. Columns must appear in the same order as in the table:
// the collision check in insertDict joins an entry's non-NULL columns in
// table order and compares them with its values in layout order.
var sourceDimsColumns = map[keymeter.Source][]string{
	// method; domainName as the viewer's host; "HTTP/1.1" is a protocol
	// version; then API Gateway's own.
	keymeter.SourceAPIGateway: {"method", "viewer_host", "protocol_version", "stage", "api_id", "resource_path", "route_key"},
}

// dimsIndex maps each dict_dims column to its position among dimsColumns.
var dimsIndex = func() map[string]int {
	m := make(map[string]int, len(dimsColumns))
	for i, c := range dimsColumns {
		m[c] = i
	}
	return m
}()

// appendDictRow appends the id, source and width-2 values of a dictionary
// entry as one row of its table: values in order, NULL for the columns
// the entry does not fill, and for dimension entries of the sources in
// sourceDimsColumns, each value in its own column.
func appendDictRow(args []any, e keymeter.DictEntry, width int) ([]any, error) {
	row := make([]any, width-2)
	cols, ok := sourceDimsColumns[e.Source]
	switch {
	case e.Kind == keymeter.DictDims && ok:
		if len(e.Values) != len(cols) {
			return nil, fmt.Errorf("dictionary entry %x of %s has %d dimension values, want %d", e.ID, e.Source, len(e.Values), len(cols))
		}
		for i, v := range e.Values {
			row[dimsIndex[cols[i]]] = v
		}
	case len(e.Values) > width-2:
		return nil, fmt.Errorf("dictionary entry %x of %s has %d values, its table %d columns", e.ID, e.Source, len(e.Values), width-2)
	default:
		for i, v := range e.Values {
			row[i] = v
		}
	}
	args = append(args, int64(e.ID), uint8(e.Source))
	return append(args, row...), nil
}
