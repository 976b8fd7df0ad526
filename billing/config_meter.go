package billing

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keymeter/keymeter"
)

func (l *loader) meter(e field, path string) Meter {
	l.checkName(e.key, path, "meter")
	m := Meter{Name: e.key.Value}
	f := l.mapping(e.val, path, []string{"description", "measure", "source", "unit", "unit_bytes", "include", "exclude", "stripe_event_name"})
	if f == nil {
		if isNull(e.val) {
			l.errf(e.key, path, "missing: a meter needs at least measure and source")
		}
		return m
	}
	m.Description = l.str(f, "description", path)
	m.StripeEventName = l.str(f, "stripe_event_name", path)
	if d, found := f.get("measure"); !found {
		l.errf(e.key, join(path, "measure"), "missing (want requests, bytes_sent or bytes_received)")
	} else if s, ok := l.scalar(d.val, join(path, "measure")); ok {
		switch mm := Measure(s); mm {
		case MeasureRequests, MeasureBytesSent, MeasureBytesReceived:
			m.Measure = mm
		default:
			l.errf(d.val, join(path, "measure"), "unknown measure %q (want requests, bytes_sent or bytes_received)", s)
		}
	}
	if d, found := f.get("source"); !found {
		l.errf(e.key, join(path, "source"), "missing (want edge, cloudfront, cloudfront-realtime or apigateway)")
	} else if s, ok := l.scalar(d.val, join(path, "source")); ok {
		src, err := keymeter.ParseSource(s)
		if err != nil {
			l.errf(d.val, join(path, "source"), "%v", err)
		}
		m.Source = src
	}
	m.Filter.Source = m.Source
	m.Unit = l.unit(f, path, m.Measure)
	if d, found := f.get("include"); found {
		m.Filter.Include = l.match(d.val, join(path, "include"), m.Source)
	}
	if d, found := f.get("exclude"); found {
		m.Filter.Exclude = l.match(d.val, join(path, "exclude"), m.Source)
	}
	return m
}

// unit reads a meter's unit and unit_bytes. A bytes unit whose name does
// not say its size (GB) must be given one (unit_bytes: 1000000000).
func (l *loader) unit(f *fields, path string, measure Measure) Unit {
	ue, hasUnit := f.get("unit")
	be, hasBytes := f.get("unit_bytes")
	if !measure.IsBytes() {
		if hasBytes && measure != "" {
			l.errf(be.key, join(path, "unit_bytes"), "only byte meters have unit_bytes")
		}
		if hasUnit && measure != "" {
			if s, ok := l.scalar(ue.val, join(path, "unit")); ok && s != "request" {
				l.errf(ue.val, join(path, "unit"), "a requests meter counts in unit: request (got %q)", s)
			}
		}
		return Unit{Name: "request", Bytes: 1}
	}
	name := "byte"
	if hasUnit {
		s, ok := l.scalar(ue.val, join(path, "unit"))
		if !ok {
			return Unit{}
		}
		name = s
	}
	bu, known := byteUnits[name]
	if !known {
		l.errf(ue.val, join(path, "unit"), "unknown byte unit %q (want byte; KB, MB, GB, TB or PB with unit_bytes; or KiB, MiB, GiB, TiB or PiB)", name)
		return Unit{}
	}
	dec, bin := int64(1), int64(1)
	for range bu.k {
		dec *= 1000
		bin *= 1024
	}
	if !hasBytes {
		if bu.k > 0 && !bu.binary {
			l.errf(ue.val, join(path, "unit_bytes"), "missing: say what one %s is, unit_bytes: %d (10^%d) or %d (2^%d)", name, dec, 3*bu.k, bin, 10*bu.k)
			return Unit{}
		}
		return Unit{Name: name, Bytes: bin}
	}
	n, ok := l.positiveInt(be.val, join(path, "unit_bytes"))
	switch {
	case !ok:
		return Unit{}
	case bu.binary && n != bin:
		l.errf(be.val, join(path, "unit_bytes"), "a %s is %d bytes (got %d)", name, bin, n)
		return Unit{}
	case !bu.binary && n != dec && n != bin:
		l.errf(be.val, join(path, "unit_bytes"), "a %s is %d or %d bytes (got %d)", name, dec, bin, n)
		return Unit{}
	}
	return Unit{Name: name, Bytes: n}
}

// match reads the include or exclude conditions of a meter.
func (l *loader) match(n *yaml.Node, path string, src keymeter.Source) Match {
	var m Match
	f := l.mapping(n, path, []string{"status", "edge_result", "path", "method"})
	each := func(key string, fn func(it *yaml.Node, p, s string)) {
		e, ok := f.get(key)
		if !ok {
			return
		}
		p := join(path, key)
		if key == "edge_result" && src == keymeter.SourceAPIGateway {
			l.errf(e.key, p, "API Gateway logs have no edge result; filter a CloudFront meter instead")
		}
		for i, it := range l.list(e.val, p) {
			if s, ok := l.scalar(it, index(p, i)); ok {
				fn(it, index(p, i), s)
			}
		}
	}
	each("status", func(it *yaml.Node, p, s string) {
		r, err := ParseStatusRange(s)
		if err != nil {
			l.errf(it, p, "%v", err)
			return
		}
		m.Status = append(m.Status, r)
	})
	each("edge_result", func(it *yaml.Node, p, s string) {
		if !slices.Contains(EdgeResultTypes(), s) {
			l.errf(it, p, "unknown edge result type %q (want %s)", s, orList(EdgeResultTypes()))
			return
		}
		m.EdgeResult = append(m.EdgeResult, s)
	})
	each("path", func(it *yaml.Node, p, s string) {
		if s == "" || s[0] != '/' && s[0] != '*' {
			l.errf(it, p, "path pattern %q must start with / or *", s)
			return
		}
		m.Path = append(m.Path, s)
	})
	each("method", func(it *yaml.Node, p, s string) {
		u := strings.ToUpper(s)
		if !slices.Contains(Methods(), u) {
			l.errf(it, p, "unknown HTTP method %q (want %s)", s, orList(Methods()))
			return
		}
		m.Method = append(m.Method, u)
	})
	return m
}
