package billing

// Currency is an ISO 4217 currency and the number of digits of its minor
// unit: USD has 2 (cents), JPY 0, KWD 3. Every amount in this package is
// a Decimal count of minor units.
type Currency struct {
	Code       string `json:"code"`
	MinorUnits int32  `json:"minor_units"`
}

// minorUnits holds the minor-unit digits of the currencies keymeter knows
// without being told (ISO 4217). Others need minor_units in the config.
var minorUnits = map[string]int32{
	// two digits
	"AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2,
	"COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2,
	"IDR": 2, "ILS": 2, "INR": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2, "NZD": 2,
	"PEN": 2, "PHP": 2, "PKR": 2, "PLN": 2, "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2,
	"THB": 2, "TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "ZAR": 2,
	// no minor unit
	"CLP": 0, "ISK": 0, "JPY": 0, "KRW": 0, "PYG": 0, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
	// three digits
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// KnownCurrency returns the currency with the given ISO 4217 code when
// this package knows its minor units.
func KnownCurrency(code string) (Currency, bool) {
	n, ok := minorUnits[code]
	return Currency{Code: code, MinorUnits: n}, ok
}

// ToMinor converts an amount in major units ("12.34" dollars) to minor
// units (1234 cents), exactly.
func (c Currency) ToMinor(major Decimal) Decimal { return major.Shift(c.MinorUnits) }

// Format returns an amount of minor units in major units with the
// currency's digits, for people: 123456 cents → "1234.56". Amounts with
// fractions of a minor unit keep them ("0.00035" cents → "0.0000035").
func (c Currency) Format(minor Decimal) string {
	m := minor.Shift(-c.MinorUnits)
	if m.Scale() < c.MinorUnits {
		m = m.Round(c.MinorUnits)
	}
	return m.String()
}
