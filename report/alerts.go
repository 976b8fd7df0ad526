package report

import (
	"encoding/json"

	"github.com/keymeter/keymeter/service"
)

// Alerts lays out alerts of the outbox, oldest first. With payload, a
// last column holds each webhook's JSON body (as JSON, not a string, in
// the JSON format).
func Alerts(list []service.AlertRecord, payload bool) *Table {
	t := &Table{Columns: []string{"created_at", "customer", "rule", "meter", "period", "status", "attempts",
		"last_status", "last_error", "next_at", "delivered_at", "idempotency_key"}}
	if payload {
		t.Columns = append(t.Columns, "payload")
	}
	for _, a := range list {
		next, delivered := Null(), Null()
		if a.NextAt != nil {
			next = Time(*a.NextAt)
		}
		if a.DeliveredAt != nil {
			delivered = Time(*a.DeliveredAt)
		}
		last := Null()
		if a.LastStatus != 0 {
			last = Int(int64(a.LastStatus))
		}
		row := []Cell{Time(a.CreatedAt), Text(a.Customer), Text(a.Rule), Text(a.Meter), Text(a.Period), Text(string(a.Status)),
			Int(int64(a.Attempts)), last, OptText(a.LastError, a.LastError == ""), next, delivered, Text(a.Key)}
		if payload {
			row = append(row, Cell{Text: string(a.Payload), JSON: json.RawMessage(a.Payload)})
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
