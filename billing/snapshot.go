package billing

import (
	"bytes"
	"encoding/json"

	"github.com/keymeter/keymeter"
)

// A plan snapshot is a plan as it was when an invoice was finalized:
// late events of that invoice's period are rated on it, whatever the
// billing config says by then (a price changed, the customer moved to
// another plan). It is JSON: the plan's fields, meters included, with
// every amount an exact decimal string.

// snapshotVersion is the version of the snapshots MarshalPlan writes.
const snapshotVersion = 1

type planSnapshot struct {
	Version int   `json:"version"`
	Plan    *Plan `json:"plan"`
}

// MarshalPlan returns the snapshot of a plan.
func MarshalPlan(p *Plan) ([]byte, error) {
	return json.Marshal(planSnapshot{Version: snapshotVersion, Plan: p})
}

// UnmarshalPlan reads a snapshot written by MarshalPlan. It returns an
// EINVALID error for bytes that are not one.
func UnmarshalPlan(data []byte) (*Plan, error) {
	var s planSnapshot
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&s); err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "not a plan snapshot: %v", err)
	}
	if s.Version != snapshotVersion || s.Plan == nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "plan snapshot version %d (this keymeter reads version %d)", s.Version, snapshotVersion)
	}
	return s.Plan, nil
}
