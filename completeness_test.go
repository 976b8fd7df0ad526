package keymeter

import (
	"slices"
	"testing"
	"time"
)

func TestDefaultSources(t *testing.T) {
	for _, tt := range []struct{ present, want []Source }{
		{nil, nil},
		{[]Source{SourceCloudFront}, []Source{SourceEdge}},
		{[]Source{SourceCloudFront, SourceCloudFrontRealtime}, []Source{SourceEdge}},
		{[]Source{SourceCloudFrontRealtime, SourceAPIGateway}, []Source{SourceEdge, SourceAPIGateway}},
		{[]Source{SourceAPIGateway}, []Source{SourceAPIGateway}},
	} {
		if got := DefaultSources(tt.present); !slices.Equal(got, tt.want) {
			t.Errorf("DefaultSources(%v) = %v, want %v", tt.present, got, tt.want)
		}
	}
	if s, err := ParseSource("edge"); err != nil || s != SourceEdge || s.String() != "edge" || !s.IsCloudFront() {
		t.Errorf("ParseSource(edge) = %v, %v", s, err)
	}
	if slices.Contains(Sources(), SourceEdge) {
		t.Error("Sources lists the edge join, which stores nothing")
	}
}

// TestWatermarkOf: a log's newest request less its settling delay, the
// earliest over the active distributions, the latest when none is; the
// edge join's the earlier of its two logs' per distribution.
func TestWatermarkOf(t *testing.T) {
	d := func(day, hour int) time.Time { return time.Date(2025, 10, day, hour, 0, 0, 0, time.UTC) }
	oct, nov := d(1, 0), d(32, 0)
	progress := []SourceProgress{
		{SourceCloudFront, "a", d(1, 0), d(31, 20)},
		{SourceCloudFront, "b", d(1, 0), d(31, 10)},
		{SourceCloudFront, "retired", d(1, 0), d(5, 0)},
		{SourceCloudFrontRealtime, "a", d(3, 0), d(31, 23)},
		{SourceCloudFrontRealtime, "c", d(1, 0), d(31, 1)},
	}
	settle := DefaultSettle()
	check := func(src Source, from, to time.Time, want time.Time, known bool) {
		t.Helper()
		w := WatermarkOf(progress, src, from, to, settle)
		if w.Known != known || !w.Until.Equal(want) {
			t.Errorf("%s over [%s, %s): %v %v, want %v %v", src, from, to, w.Until, w.Known, want, known)
		}
	}
	check(SourceCloudFront, oct, nov, d(30, 10), true)                              // b; the retired distribution is idle
	check(SourceCloudFront, d(20, 0), d(21, 0), d(30, 10), true)                    // the same for a past day
	check(SourceCloudFront, d(40, 0), d(41, 0), d(30, 10), true)                    // and a later one
	check(SourceCloudFrontRealtime, oct, nov, d(31, 23).Add(-15*time.Minute), true) // a; c is idle
	check(SourceEdge, oct, nov, d(30, 10), true)                                    // the earlier log
	check(SourceAPIGateway, oct, nov, time.Time{}, false)                           // no events at all
	// A real-time log that stopped long before the period does not hold
	// the edge join back.
	trial := append(slices.Clone(progress[:3]), SourceProgress{SourceCloudFrontRealtime, "a", d(1, 0), d(2, 0)})
	if w := WatermarkOf(trial, SourceEdge, d(20, 0), d(21, 0), settle); !w.Until.Equal(d(30, 10)) {
		t.Errorf("edge with a real-time trial in the past: %v", w.Until)
	}
	if w := WatermarkOf(trial, SourceEdge, d(1, 0), d(2, 0), settle); !w.Until.Equal(d(2, 0).Add(-15 * time.Minute)) {
		t.Errorf("edge in the trial: %v", w.Until)
	}
	if w := WatermarkOf(progress, SourceEdge, oct, nov, settle); !w.Provisional(nov) || w.Provisional(d(30, 10)) {
		t.Errorf("provisional: %+v", w)
	}
	if (Watermark{}).Provisional(oct) != true {
		t.Error("a source without events is not provisional")
	}
}

func TestPercent(t *testing.T) {
	for in, want := range map[string]int64{"99": 9900, "99.5%": 9950, "0": 0, "100": 10000, " 12.34% ": 1234} {
		if got, err := ParsePercent(in); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "101", "99.999", "x", "-1", "50%%"} {
		if _, err := ParsePercent(bad); ErrorCode(err) != EINVALID {
			t.Errorf("ParsePercent(%q): %v, want EINVALID", bad, err)
		}
	}
	if s := FormatBasisPoints(9312); s != "93.12" {
		t.Errorf("FormatBasisPoints(9312) = %s", s)
	}
	if s := FormatBasisPoints(5); s != "0.05" {
		t.Errorf("FormatBasisPoints(5) = %s", s)
	}
	if bp, ok := (&CoverageRow{Standard: 3, WithRealtime: 2}).RealtimeBasisPoints(); !ok || bp != 6666 {
		t.Errorf("2 of 3: %d %v", bp, ok)
	}
	if _, ok := (&CoverageRow{RealtimeOnly: 3}).RealtimeBasisPoints(); ok {
		t.Error("a ratio without standard lines")
	}
}
