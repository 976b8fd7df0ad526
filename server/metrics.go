package server

import (
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics (see the README's list).
type metrics struct {
	reg         *prometheus.Registry
	commit      prometheus.Histogram
	http        *prometheus.HistogramVec
	checkpoints prometheus.Counter
	commands    *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "keymeter_commit_duration_seconds", Help: "Time each commit of ingested data took.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	})
	m.http = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "keymeter_http_request_duration_seconds", Help: "HTTP request duration by route pattern and status.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route", "code"})
	m.checkpoints = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "keymeter_checkpoints_total", Help: "CHECKPOINTs run while the store was idle.",
	})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keymeter_cli_commands_total", Help: "Commands of other keymeter processes carried out, by command and exit code.",
	}, []string{"command", "exit_code"})
	fileSize := func(path string) func() float64 {
		return func() float64 {
			if path == "" {
				return 0
			}
			fi, err := os.Stat(path)
			if err != nil {
				return 0
			}
			return float64(fi.Size())
		}
	}
	m.reg.MustRegister(m.commit, m.http, m.checkpoints, m.commands,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keymeter_store_size_bytes", Help: "Size of the database file."}, fileSize(s.cfg.StoreFile)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keymeter_wal_size_bytes", Help: "Size of the database's write-ahead log (0: none)."}, fileSize(s.cfg.WALFile)),
		sourceCollector{s},
	)
	if s.cfg.Outbox != nil {
		out := s.cfg.Outbox
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keymeter_alert_outbox_pending", Help: "Alert deliveries waiting in the outbox."},
				func() float64 { p, _ := out(); return float64(p) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keymeter_alert_outbox_dead", Help: "Alert deliveries that gave up."},
				func() float64 { _, d := out(); return float64(d) }),
		)
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

var (
	srcLabels      = []string{"source", "kind"}
	descLines      = prometheus.NewDesc("keymeter_source_lines_total", "Lines (records) read from the source since the server started.", srcLabels, nil)
	descEvents     = prometheus.NewDesc("keymeter_source_events_total", "Events stored from the source.", srcLabels, nil)
	descDuplicates = prometheus.NewDesc("keymeter_source_duplicates_total", "Events skipped as already stored.", srcLabels, nil)
	descRejects    = prometheus.NewDesc("keymeter_source_rejects_total", "Records rejected.", srcLabels, nil)
	descLag        = prometheus.NewDesc("keymeter_source_lag_seconds", "How far reading is behind the source's newest data.", srcLabels, nil)
	descLastCommit = prometheus.NewDesc("keymeter_source_last_commit_timestamp_seconds", "When the source's data last committed (0: never).", srcLabels, nil)
	descUp         = prometheus.NewDesc("keymeter_source_up", "1 when the source's last attempt succeeded, 0 after an error.", srcLabels, nil)
)

// sourceCollector reports the sources' status at each scrape.
type sourceCollector struct{ s *Server }

func (c sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLines, descEvents, descDuplicates, descRejects, descLag, descLastCommit, descUp} {
		ch <- d
	}
}

func (c sourceCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.s.Sources() {
		l := []string{st.Name, st.Kind}
		ch <- prometheus.MustNewConstMetric(descLines, prometheus.CounterValue, float64(st.Lines), l...)
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(st.Events), l...)
		ch <- prometheus.MustNewConstMetric(descDuplicates, prometheus.CounterValue, float64(st.Duplicates), l...)
		ch <- prometheus.MustNewConstMetric(descRejects, prometheus.CounterValue, float64(st.Rejects), l...)
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, st.Lag.Seconds(), l...)
		last := 0.0
		if !st.LastCommit.IsZero() {
			last = float64(st.LastCommit.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(descLastCommit, prometheus.GaugeValue, last, l...)
		up := 1.0
		if st.LastError != "" {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, l...)
	}
}
