package duckdb

import (
	"context"
	"fmt"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter"
)

// QuerySQL implements keymeter.SQLQuerier. The query runs with Trino's
// (Athena's) integer division, so that SUM(sc_bytes) / 1024 / 1024 means
// what it means in Athena. Open the store read-only to make sure a query
// cannot change anything.
func (s *DB) QuerySQL(ctx context.Context, query string) (*keymeter.Table, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sql: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET integer_division = true`); err != nil {
		return nil, fmt.Errorf("sql: %w", err)
	}
	defer conn.ExecContext(context.Background(), `RESET integer_division`)
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%v", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("sql: %w", err)
	}
	t := &keymeter.Table{Columns: cols}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("sql: %w", err)
		}
		row := make([]any, len(vals))
		for i, v := range vals {
			row[i] = plainValue(v)
		}
		t.Rows = append(t.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "%v", err)
	}
	return t, nil
}

// plainValue converts driver values to the types keymeter.Table promises.
func plainValue(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.UTC()
	case duckdb.Decimal:
		return x.String()
	case duckdb.Interval:
		return fmt.Sprintf("%d months %d days %d µs", x.Months, x.Days, x.Micros)
	case []any, map[any]any, duckdb.Map, duckdb.UUID:
		return fmt.Sprint(x)
	}
	return v
}
