package dashboard

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/keymeter/keymeter"
)

// chart is a chart for the templates: the data its script draws, and
// the same numbers laid out for the table beside it.
type chart struct {
	ID    string // the figure's id is "chart-" + ID
	Title string
	Unit  string
	Data  chartData // the JSON of <script type="application/json">
	Rows  []chartRow
}

// chartData is what assets/dashboard.js reads. Values are exact decimal
// strings ("" where a line has no value that day); the script turns
// them into numbers only to draw, and shows the strings.
type chartData struct {
	Unit string `json:"unit"`
	// Compare draws the second line dashed over a wider first: two
	// figures that should be equal.
	Compare bool          `json:"compare,omitempty"`
	Days    []string      `json:"days"` // 2006-01-02
	X       []int64       `json:"x"`    // the days' midnights, Unix seconds
	Series  []chartSeries `json:"series"`
}

type chartSeries struct {
	Label  string   `json:"label"`
	Values []string `json:"values"`
}

// chartRow is one day of a chart's table.
type chartRow struct {
	Day   string
	Cells []chartCell
}

type chartCell struct {
	Value string // exact, as in the chart's data
	Text  string // for people: thousands separators
}

// seriesChart lays out a Series. It fails when a line has not one value
// per day, or the days are not UTC midnights in ascending order.
func seriesChart(id, title, unit string, s Series) (*chart, error) {
	c := &chart{ID: id, Title: title, Unit: unit, Data: chartData{Unit: unit}}
	if err := c.setDays(s.Days); err != nil {
		return nil, fmt.Errorf("chart %s: %w", id, err)
	}
	for _, l := range s.Lines {
		if len(l.Values) != len(s.Days) {
			return nil, fmt.Errorf("chart %s: line %q has %d values for %d days", id, l.Label, len(l.Values), len(s.Days))
		}
		vs := make([]string, len(l.Values))
		for i, v := range l.Values {
			vs[i] = v.String()
		}
		c.addLine(l.Label, vs, group)
	}
	return c, nil
}

// setDays sets the chart's days and a table row for each.
func (c *chart) setDays(days []time.Time) error {
	for i, d := range days {
		if d.UTC() != d.UTC().Truncate(24*time.Hour) {
			return fmt.Errorf("day %s is not a UTC midnight", d.UTC().Format(time.RFC3339))
		}
		if i > 0 && !days[i-1].Before(d) {
			return fmt.Errorf("days are not in ascending order at %s", dateText(d))
		}
		c.Data.Days = append(c.Data.Days, dateText(d))
		c.Data.X = append(c.Data.X, d.Unix())
		c.Rows = append(c.Rows, chartRow{Day: dateText(d)})
	}
	return nil
}

// addLine adds a line of exact values, one per day, shown in the table
// with text.
func (c *chart) addLine(label string, values []string, text func(string) string) {
	c.Data.Series = append(c.Data.Series, chartSeries{Label: keymeter.ValidUTF8(label), Values: values})
	for i, v := range values {
		t := "—"
		if v != "" {
			t = text(v)
		}
		c.Rows[i].Cells = append(c.Rows[i].Cells, chartCell{Value: v, Text: t})
	}
}

// Labels returns the chart's line labels, for the table's header.
func (c *chart) Labels() []string {
	l := make([]string, len(c.Data.Series))
	for i, s := range c.Data.Series {
		l[i] = s.Label
	}
	return l
}

func percentText(s string) string { return s + "%" }

// cacheChart draws the cache-hit ratio per day, in percent.
func cacheChart(days []CacheDay) (*chart, error) {
	c := &chart{ID: "cache", Title: "Cache-hit ratio per day", Unit: "%", Data: chartData{Unit: "%"}}
	ds := make([]time.Time, len(days))
	vs := make([]string, len(days))
	for i, d := range days {
		ds[i] = d.Day
		if d.Requests.Sign() > 0 {
			vs[i] = basisPoints(ratioBasisPoints(d.Hits, d.Requests))
		}
	}
	if err := c.setDays(ds); err != nil {
		return nil, fmt.Errorf("chart cache: %w", err)
	}
	c.addLine("cache hits", vs, percentText)
	return c, nil
}

// edgeOriginChart draws, per day, the requests the edge passed to the
// origin and the requests the origin logged.
func edgeOriginChart(days []EdgeOriginDay) (*chart, error) {
	c := &chart{ID: "edge-origin", Title: "Edge against origin per day", Unit: "requests", Data: chartData{Unit: "requests", Compare: true}}
	ds := make([]time.Time, len(days))
	edge := make([]string, len(days))
	origin := make([]string, len(days))
	for i, d := range days {
		ds[i] = d.Day
		edge[i] = strconv.FormatInt(d.ToOrigin(), 10)
		origin[i] = strconv.FormatInt(d.OriginRequests, 10)
	}
	if err := c.setDays(ds); err != nil {
		return nil, fmt.Errorf("chart edge-origin: %w", err)
	}
	c.addLine("edge to origin", edge, group)
	c.addLine("origin", origin, group)
	return c, nil
}

// coverageChart draws the real-time/standard ratio per day, a line per
// distribution.
func coverageChart(days []CoverageDay) (*chart, error) {
	c := &chart{ID: "coverage", Title: "Real-time records per standard request", Unit: "%", Data: chartData{Unit: "%"}}
	var ds []time.Time
	var dists []string
	for _, d := range days {
		day := d.Day.UTC()
		if !slices.Contains(ds, day) {
			ds = append(ds, day)
		}
		if !slices.Contains(dists, d.Distribution) {
			dists = append(dists, d.Distribution)
		}
	}
	slices.SortFunc(ds, func(a, b time.Time) int { return a.Compare(b) })
	if err := c.setDays(ds); err != nil {
		return nil, fmt.Errorf("chart coverage: %w", err)
	}
	for _, dist := range dists {
		vs := make([]string, len(ds))
		for _, d := range days {
			if d.Distribution != dist {
				continue
			}
			if bp, ok := d.RatioBasisPoints(); ok {
				vs[slices.Index(ds, d.Day.UTC())] = basisPoints(bp)
			}
		}
		c.addLine(dist, vs, percentText)
	}
	return c, nil
}
