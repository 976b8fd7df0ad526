package billing

import "github.com/keymeter/keymeter"

// ratePackage prices billable units in whole packages, rounding the
// number of packages up: a started package is a whole package.
//
//	packages = ⌈billable / PackageSize⌉
//	amount   = packages × PackageAmount
//
// Zero billable units are zero packages.
func ratePackage(p *Price, billable Decimal, line *Line) (Decimal, error) {
	if p.PackageSize.Sign() <= 0 {
		return Decimal{}, keymeter.Errorf(keymeter.EINVALID, "meter %q: package size must be positive", p.Meter.Name)
	}
	packages := billable.QuoCeil(p.PackageSize)
	size := p.PackageSize
	line.Packages = &packages
	line.PackageSize = &size
	return packages.Mul(p.PackageAmount), nil
}
