package sqlcheck

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// events returns every combination of a few interesting field values,
// NULLs (empty strings, status -1) included.
func events() []billing.EventFields {
	var out []billing.EventFields
	for _, src := range keymeter.Sources() {
		for _, path := range []string{"", "/v1/users", "/v1/health", "/v2/x", "/v1", "/a_b%c\\z", "/aXb%c\\z", "/100%"} {
			for _, method := range []string{"", "GET", "POST", "DELETE"} {
				for _, status := range []int{-1, 0, 200, 404, 429, 500, 599} {
					for _, edge := range []string{"", "Hit", "Miss", "Error", "LimitExceeded"} {
						out = append(out, billing.EventFields{
							Source: src, Path: path, Method: method, Status: status, EdgeResult: edge,
							BytesSent: int64(len(path) * 100), BytesReceived: int64(status + 1),
						})
					}
				}
			}
		}
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestSQLWhereOnDuckDB(t *testing.T) {
	ctx := context.Background()
	conn, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE events (
		id INTEGER, source VARCHAR, time TIMESTAMP, customer VARCHAR, api_key VARCHAR,
		path VARCHAR, method VARCHAR, status SMALLINT, edge_result VARCHAR, edge_location VARCHAR,
		bytes_sent BIGINT, bytes_received BIGINT)`); err != nil {
		t.Fatal(err)
	}
	evs := events()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO events VALUES (?, ?, TIMESTAMP '2025-10-01', 'c', 'k', ?, ?, ?, ?, 'IAD', ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		var status any
		if e.Status >= 0 {
			status = e.Status
		}
		if _, err := ins.ExecContext(ctx, i, e.Source.String(), nullable(e.Path), nullable(e.Method), status, nullable(e.EdgeResult), e.BytesSent, e.BytesReceived); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	cf := keymeter.SourceCloudFront
	for _, tt := range []struct {
		name    string
		measure billing.Measure
		filter  billing.MeterFilter
	}{
		{"everything", billing.MeasureRequests, billing.MeterFilter{Source: cf}},
		{"exclude 5xx and edge errors", billing.MeasureBytesSent, billing.MeterFilter{Source: cf, Exclude: billing.Match{
			Status: []billing.StatusRange{{Min: 500, Max: 599}}, EdgeResult: []string{"Error", "LimitExceeded"}}}},
		{"include paths and methods", billing.MeasureRequests, billing.MeterFilter{Source: keymeter.SourceAPIGateway, Include: billing.Match{
			Path: []string{"/v1/*", "/v2/?"}, Method: []string{"GET", "POST"}}}},
		{"LIKE metacharacters are literal", billing.MeasureRequests, billing.MeterFilter{Source: cf, Include: billing.Match{
			Path: []string{"/a_b%c\\*", "/100%"}}}},
		{"include status, exclude path and method", billing.MeasureBytesReceived, billing.MeterFilter{Source: keymeter.SourceCloudFrontRealtime,
			Include: billing.Match{Status: []billing.StatusRange{{Min: 0, Max: 0}, {Min: 200, Max: 299}}, EdgeResult: []string{"Hit", "Miss"}},
			Exclude: billing.Match{Path: []string{"*/health"}, Method: []string{"DELETE"}, Status: []billing.StatusRange{{Min: 429, Max: 429}}}}},
	} {
		where, args := tt.filter.SQLWhere()
		rows, err := db.QueryContext(ctx, "SELECT id FROM events WHERE "+where+" ORDER BY id", args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tt.name, err, where)
		}
		var got []int
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			got = append(got, id)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		var want []int
		m := billing.Meter{Measure: tt.measure, Filter: tt.filter}
		var wantSum int64
		for i := range evs {
			if tt.filter.Matches(&evs[i]) {
				want = append(want, i)
				wantSum += m.Raw(&evs[i])
			}
		}
		if len(want) == 0 || len(want) == len(evs) && tt.name != "everything" {
			t.Errorf("%s: the Go filter selects %d of %d rows: a useless test case", tt.name, len(want), len(evs))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: SQL selects %d rows, Matches %d\n%s\nfirst difference: %s", tt.name, len(got), len(want), where, firstDiff(evs, got, want))
		}
		var sum int64
		if err := db.QueryRowContext(ctx, "SELECT "+m.SQLSum()+" FROM events WHERE "+where, args...).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if sum != wantSum {
			t.Errorf("%s: SQL %s = %d, Go = %d", tt.name, m.SQLSum(), sum, wantSum)
		}
	}
}

func firstDiff(evs []billing.EventFields, got, want []int) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf("SQL misses %+v", evs[want[i]])
		case i >= len(want):
			return fmt.Sprintf("SQL adds %+v", evs[got[i]])
		case got[i] != want[i]:
			return fmt.Sprintf("SQL %+v, Go %+v", evs[got[i]], evs[want[i]])
		}
	}
	return "none"
}
