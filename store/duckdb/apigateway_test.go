package duckdb_test

import (
	"fmt"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/store/duckdb"
)

// TestAPIGatewayDims stores an API Gateway event and reads it back
// through the events and apigateway_logs views: each dimension lands in
// its own column, and a second entry with the same values is not taken
// for a hash collision.
func TestAPIGatewayDims(t *testing.T) {
	db := open(t, duckdb.Options{})
	defer db.Close()
	id := keymeter.OriginIdentity(keymeter.IdentityAPIKeyID, []byte("k1a2b3c4d5"))
	b := &keymeter.Batch{Source: keymeter.SourceAPIGateway, Object: &keymeter.Object{URI: "test"}}
	b.Rows = []keymeter.Row{{
		Time: 1759276800e6, ID: [2]uint64{1, 1}, KeyID: id.ID, Dims: 7, Client: 8, Path: 9, Status: 201, BytesSent: 17, BytesRecv: -1,
		TimeTaken: 15, TTFB: -1, ClientPort: -1, FLEEncrypt: -1, ContentLen: -1, RangeStart: -1, RangeEnd: -1,
	}}
	b.Rest = []byte("DmW5bGxsIAMFb_x=\t203.0.113.7\t5b0b6f6e-3e1a")
	b.Rows[0].RestEnd = uint32(len(b.Rest))
	b.Dict = []keymeter.DictEntry{
		{Kind: keymeter.DictDims, Source: keymeter.SourceAPIGateway, ID: 7, Values: []string{"POST", "api.example.com", "HTTP/1.1", "prod", "a1b2c3d4e5", "/pets", "-"}},
		{Kind: keymeter.DictClient, Source: keymeter.SourceAPIGateway, ID: 8, Values: []string{"curl/8.5.0", "-"}},
		{Kind: keymeter.DictPath, Source: keymeter.SourceAPIGateway, ID: 9, Values: []string{"/prod/pets", "/prod/pets"}},
	}
	b.Keys = []keymeter.KeyFingerprint{id}
	writeRows(t, db, b)
	// The same entries again, in a new writer: no collision.
	b.Rows[0].ID = [2]uint64{2, 2}
	writeRows(t, db, b)

	tab, err := db.QuerySQL(ctx, `SELECT source, request_id, api_key, method, path, status, edge_result, edge_location, bytes_sent FROM events ORDER BY request_id LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tab.Rows); got != "[[apigateway DmW5bGxsIAMFb_x= apikeyid:k1a2b3c4d5 POST /prod/pets 201 <nil> <nil> 17]]" {
		t.Errorf("events: %s", got)
	}
	tab, err = db.QuerySQL(ctx, `SELECT request_id, api_request_id, source_ip, api_key_id, identity, api_key, http_method, path,
		resource_path, route_key, stage, api_id, domain_name, protocol, status, response_length, response_latency_ms, user_agent
		FROM apigateway_logs LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	want := "[[DmW5bGxsIAMFb_x= 5b0b6f6e-3e1a 203.0.113.7 k1a2b3c4d5 <nil> <nil> POST /prod/pets /pets <nil> prod a1b2c3d4e5 api.example.com HTTP/1.1 201 17 15 curl/8.5.0]]"
	if got := fmt.Sprint(tab.Rows); got != want {
		t.Errorf("apigateway_logs:\n got %s\nwant %s", got, want)
	}
}
