package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keymeter/keymeter/store/postgres"
	"github.com/keymeter/keymeter/store/storetest"

	"github.com/keymeter/keymeter"
)

var ctx = context.Background()

// serverURL returns KEYMETER_TEST_POSTGRES, the server scripts/testenv.sh
// starts. Without it the test is skipped, unless
// KEYMETER_REQUIRE_SERVERS=1 says the servers were meant to be running.
func serverURL(t *testing.T) string {
	t.Helper()
	v := os.Getenv("KEYMETER_TEST_POSTGRES")
	if v == "" {
		if os.Getenv("KEYMETER_REQUIRE_SERVERS") == "1" {
			t.Fatal("KEYMETER_TEST_POSTGRES is not set but KEYMETER_REQUIRE_SERVERS=1: run the tests with scripts/testenv.sh")
		}
		t.Skip("KEYMETER_TEST_POSTGRES is not set; run the tests with scripts/testenv.sh to test against PostgreSQL")
	}
	return v
}

var databases atomic.Int64

// freshDatabase creates an empty database for one test, dropped at its
// end, and returns its URL.
func freshDatabase(t *testing.T) string {
	t.Helper()
	server := serverURL(t)
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("km_test_%d_%d", os.Getpid(), databases.Add(1))
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), server)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func open(t *testing.T, dbURL string) *postgres.DB {
	t.Helper()
	s, err := postgres.Open(ctx, dbURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsupported are the contract's cases that need per-event data, which
// this backend does not keep (raw events are to go to the Parquet lake,
// issue 14): each says what it asks that daily rollups cannot answer.
// Each one passes on the DuckDB store, which keeps events.
var unsupported = map[string]string{
	"UsageDimensions":          "usage by path, method, status, edge result, edge location and hour groups by the events' own columns",
	"UsagePeriodIsHalfOpen":    "periods bounded to the microsecond cut days that rollups hold whole",
	"UsagePeriodForms":         "it compares whole-day periods with periods a microsecond longer",
	"TextNotUTF8":              "usage by path and method (the events' own columns)",
	"TotalsBeyond64Bits":       "a period from a microsecond in, usage by path and meter totals need events (its whole-day totals pass)",
	"MeterTotals":              "meter filters are conditions on each event (path, status, ...)",
	"EventFilter":              "each filter field is a condition on each event (path, status, method, edge result, key source)",
	"MeterTotalsAsOf":          "meter filters on each event, as of each event's load time",
	"KeyOwnershipAsOf":         "meter totals as of a time need each event's load time",
	"KeyOwnershipOverTime":     "a key changes owners in the middle of a day, which splits a rollup day by event time",
	"KeyOwnershipRollupsAgree": "owners change in the middle of days, which splits rollup days by event time",
	"Prepare":                  "MeterTotals of the prepared transaction (meter filters on each event)",
	"Reprocess":                "retracting an object's events (ingest --reprocess) needs the events",
	"DedupeRetracted":          "retracting an object's events needs the events",
	"EdgeJoinBothOrders":       "the edge join matches the two CloudFront logs' events by request ID",
	"EdgeJoinLateRecord":       "the edge join matches events by request ID",
	"EdgeJoinReingest":         "the edge join matches events by request ID",
	"EdgeJoinRetraction":       "the edge join and retraction need the events",
	"EdgeJoinRandom":           "the edge join matches events by request ID",
	"EdgeJoinSidebySide":       "the default sources of a month with both CloudFront logs are the edge join (its SourcesIn part passes)",
	"Reconcile":                "its default edge is the edge join, which matches events by request ID (TestReconcileOneEdgeLog checks one log against the origin)",
}

func TestContract(t *testing.T) {
	storetest.RunWith(t, func(t *testing.T) keymeter.Store {
		return open(t, freshDatabase(t))
	}, storetest.Options{Unsupported: unsupported})
}
