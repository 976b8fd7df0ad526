package billing

import (
	"bytes"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// A plan snapshot rates exactly as the plan it was taken of.
func TestPlanSnapshot(t *testing.T) {
	for _, file := range []string{"testdata/golden.yaml", "testdata/example.yaml"} {
		checkSnapshots(t, file)
	}
	if _, err := UnmarshalPlan([]byte(`{"version":9,"plan":{}}`)); err == nil {
		t.Error("a snapshot of another version was read")
	}
}

func checkSnapshots(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	period, err := PeriodFor(&Assignment{Customer: "c", Plan: "p", Start: Date{2025, 9, 20}, Location: time.UTC, Periods: Calendar}, "2025-09")
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Plans {
		p := &cfg.Plans[i]
		b, err := MarshalPlan(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := UnmarshalPlan(b)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		again, _ := MarshalPlan(q)
		if !bytes.Equal(b, again) {
			t.Errorf("%s: the snapshot changes when read and written again:\n%s\n%s", p.Name, b, again)
		}
		for _, n := range []int64{0, 1, 999, 1_000_001, 123_456_789_012} {
			usage := map[string]keymeter.Int128{}
			for _, pr := range p.Prices {
				usage[pr.Meter.Name] = keymeter.NewInt128(n)
			}
			want, err1 := Rate(p, period, usage, Options{Customer: "c"})
			got, err2 := Rate(q, period, usage, Options{Customer: "c"})
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %v, %v", p.Name, err1, err2)
			}
			if !want.Total.Equal(got.Total) || len(want.Lines) != len(got.Lines) {
				t.Errorf("%s at %d: the snapshot rates %s, the plan %s", p.Name, n, got.Total, want.Total)
			}
		}
		for j := range p.Prices {
			s1, s2 := p.Prices[j].Meter.Spec(), q.Prices[j].Meter.Spec()
			if !reflect.DeepEqual(s1, s2) || p.Prices[j].Meter.Unit != q.Prices[j].Meter.Unit {
				t.Errorf("%s: meter %s counts %+v in the snapshot, %+v in the plan", p.Name, p.Prices[j].Meter.Name, s2, s1)
			}
		}
	}
}
