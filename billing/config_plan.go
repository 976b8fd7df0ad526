package billing

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

func (l *loader) plan(e field, path string) Plan {
	l.checkName(e.key, path, "plan")
	p := Plan{Name: e.key.Value, Currency: l.currency}
	f := l.mapping(e.val, path, []string{"description", "flat_fee", "minimum_spend", "prices"})
	if f == nil {
		if isNull(e.val) {
			l.errf(e.key, path, "missing: a plan needs a flat_fee, prices or both")
		}
		return p
	}
	p.Description = l.str(f, "description", path)
	// A flat fee and a minimum spend are charged as they are: an amount
	// finer than the currency's minor unit would be rounded silently.
	if d, found := f.get("flat_fee"); found {
		p.FlatFee = l.wholeAmount(d.val, join(path, "flat_fee"))
	}
	if d, found := f.get("minimum_spend"); found {
		p.MinimumSpend = l.wholeAmount(d.val, join(path, "minimum_spend"))
	}
	if d, found := f.get("prices"); found {
		pp := join(path, "prices")
		for _, pe := range l.mapping(d.val, pp, nil).entries() {
			p.Prices = append(p.Prices, l.price(pe, join(pp, pe.key.Value)))
		}
	}
	slices.SortFunc(p.Prices, func(a, b Price) int { return strings.Compare(a.Meter.Name, b.Meter.Name) })
	return p
}

// amount reads a non-negative amount written in major units (dollars)
// and returns it in minor units (cents), exactly.
func (l *loader) amount(n *yaml.Node, path string) Decimal {
	d, _ := l.nonNegative(n, path)
	return l.currency.ToMinor(d)
}

// wholeAmount reads an amount that must be a whole number of minor units
// (no fraction of a cent, no fraction of a yen).
func (l *loader) wholeAmount(n *yaml.Node, path string) Decimal {
	v := l.amount(n, path)
	if !v.IsInteger() {
		l.errf(n, path, "must be a whole number of minor units (%s has %d digits after the point)", l.currency.Code, l.currency.MinorUnits)
	}
	return v.Round(0)
}

// priceFields lists the fields each model uses, besides model and included.
var priceFields = map[Model][]string{
	PerUnit:   {"unit_amount"},
	Package:   {"package_size", "package_amount"},
	Graduated: {"tiers"},
	Volume:    {"tiers"},
}

func modelNames() []string {
	var s []string
	for _, m := range Models() {
		s = append(s, string(m))
	}
	return s
}

func (l *loader) price(e field, path string) Price {
	var p Price
	if m, ok := l.meters[e.key.Value]; ok {
		p.Meter = *m
	} else {
		l.errf(e.key, path, "unknown meter %q (define it under meters)", e.key.Value)
		p.Meter.Name = e.key.Value
	}
	f := l.mapping(e.val, path, []string{"model", "included", "unit_amount", "package_size", "package_amount", "tiers"})
	if f == nil {
		if isNull(e.val) {
			l.errf(e.key, path, "missing: a price needs a model")
		}
		return p
	}
	if d, found := f.get("included"); found {
		p.Included, _ = l.nonNegative(d.val, join(path, "included"))
	}
	me, found := f.get("model")
	if !found {
		l.errf(e.key, join(path, "model"), "missing (want %s)", orList(modelNames()))
		return p
	}
	s, ok := l.scalar(me.val, join(path, "model"))
	if !ok {
		return p
	}
	p.Model = Model(s)
	uses, valid := priceFields[p.Model]
	if !valid {
		l.errf(me.val, join(path, "model"), "unknown price model %q (want %s)", s, orList(modelNames()))
		return p
	}
	for _, fe := range f.order {
		if k := fe.key.Value; k != "model" && k != "included" && !slices.Contains(uses, k) {
			l.errf(fe.key, join(path, k), "not used by a %s price (it uses %s)", p.Model, orList(uses))
		}
	}
	need := func(key string) (*yaml.Node, bool) {
		fe, found := f.get(key)
		if !found {
			l.errf(me.val, join(path, key), "missing: a %s price needs %s", p.Model, strings.Join(uses, " and "))
		}
		return fe.val, found
	}
	switch p.Model {
	case PerUnit:
		if n, ok := need("unit_amount"); ok {
			p.UnitAmount = l.amount(n, join(path, "unit_amount"))
		}
	case Package:
		if n, ok := need("package_size"); ok {
			v, vok := l.decimal(n, join(path, "package_size"))
			if vok && v.Sign() <= 0 {
				l.errf(n, join(path, "package_size"), "must be above zero (got %s)", v)
			}
			p.PackageSize = v
		}
		if n, ok := need("package_amount"); ok {
			p.PackageAmount = l.amount(n, join(path, "package_amount"))
		}
	case Graduated, Volume:
		if fe, ok := f.get("tiers"); ok {
			p.Tiers = l.tiers(fe, join(path, "tiers"))
		} else {
			need("tiers")
		}
	}
	return p
}

// tiers reads a tier list: sorted by up_to with no overlaps, up_to: inf
// on the last tier and only there, amounts not negative.
func (l *loader) tiers(e field, path string) []Tier {
	n := resolve(e.val)
	switch {
	case isNull(n):
		l.errf(e.key, path, "missing: give at least one tier, the last with up_to: inf")
		return nil
	case n.Kind != yaml.SequenceNode:
		l.errf(n, path, "want a list of tiers")
		return nil
	case len(n.Content) == 0:
		l.errf(n, path, "empty: give at least one tier, the last with up_to: inf")
		return nil
	}
	tiers := make([]Tier, 0, len(n.Content))
	var prev *Decimal
	for i, it := range l.list(n, path) {
		tp := index(path, i)
		last := i == len(n.Content)-1
		var t Tier
		f := l.mapping(it, tp, []string{"up_to", "unit_amount", "flat_amount"})
		if f == nil {
			if isNull(it) {
				l.errf(it, tp, "empty tier")
			}
			tiers = append(tiers, t)
			continue
		}
		if ue, found := f.get("up_to"); !found {
			l.errf(it, join(tp, "up_to"), "missing (a quantity, or inf for the last tier)")
		} else if s, ok := l.scalar(ue.val, join(tp, "up_to")); ok {
			if ls := strings.ToLower(s); ls == "inf" || ls == ".inf" {
				t.Inf = true
				if !last {
					l.errf(ue.val, join(tp, "up_to"), "only the last tier may be up_to: inf")
				}
			} else if v, ok := l.decimal(ue.val, join(tp, "up_to")); ok {
				switch {
				case v.Sign() <= 0:
					l.errf(ue.val, join(tp, "up_to"), "must be above zero (got %s)", v)
				case prev != nil && v.Cmp(*prev) <= 0:
					l.errf(ue.val, join(tp, "up_to"), "tiers overlap: up_to %s is not above the previous tier's %s (sort tiers by up_to)", v, *prev)
				case last:
					l.errf(ue.val, join(tp, "up_to"), "the last tier must be up_to: inf, so that every quantity falls in a tier")
				}
				t.UpTo = v
				prev = &t.UpTo
			}
		}
		ua, hasUnit := f.get("unit_amount")
		fa, hasFlat := f.get("flat_amount")
		if !hasUnit && !hasFlat {
			l.errf(it, tp, "missing: a tier needs unit_amount, flat_amount or both")
		}
		if hasUnit {
			t.UnitAmount = l.amount(ua.val, join(tp, "unit_amount"))
		}
		if hasFlat {
			t.FlatAmount = l.amount(fa.val, join(tp, "flat_amount"))
		}
		tiers = append(tiers, t)
	}
	return tiers
}
