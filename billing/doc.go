// Package billing turns usage into invoices: plans, meters and customers
// from a config file, billing periods, rating, cost to serve, and Stripe
// meter events. It is pure: no I/O beyond parsing the config bytes it is
// given, no clock (instants and periods are passed in), no floats, and
// the same inputs always give the same output, byte for byte once
// encoded as JSON.
//
// # Money
//
// Every amount is a Decimal count of the currency's minor units (cents
// for USD), exact at any precision: a unit price of $0.0000035 is
// "0.00035" cents, and 1,234,567 requests at that price come to exactly
// 432.09845 cents. The config file writes amounts in major units
// ("0.0000035", dollars), and the loader converts them exactly by moving
// the decimal point. YAML numbers are read from their literal text, never
// through a binary float.
//
// # Rounding
//
// There is one rounding rule, applied once per invoice line: the line's
// exact amount is rounded to a whole number of minor units, half away
// from zero (for the non-negative amounts of an invoice, half up): 432.5
// cents is 433, 432.49999 is 432. Nothing before that is rounded: unit
// prices, tier amounts and the line's exact_amount keep every digit. The
// subtotal and the total are sums of rounded lines, so they add up on
// paper. A prorated flat fee is rounded once from the exact fraction,
// round(fee × active days / period days), never from a rounded daily
// rate. A minimum-spend top-up is a difference of whole amounts and needs
// no rounding. (Margin percentages are shown to two places by the same
// rule.)
//
// Half away from zero was chosen over banker's rounding because it is
// what a customer checking an invoice by hand expects; its bias is at
// most half a minor unit per line, and an invoice has few lines.
//
// # Quantities
//
// Usage arrives as raw integer counts: requests, or bytes. A meter's
// unit converts bytes exactly: a GB is 10^9 or 2^30 bytes as the config
// states, and both give finite decimals (1 byte is 0.000000001 GB, or
// 0.000000000931322574615478515625 GB).
//
// # Price models
//
// A plan has an optional flat fee per period, prices on meters, and an
// optional minimum spend. A price is per unit, per package (a started
// package is a whole package), or tiered with Stripe's semantics: tier
// i holds quantities above tier i-1's up_to up to and including its own,
// the last tier is up to inf; graduated prices each tier's units at its
// unit amount plus the flat amount of each tier reached, volume prices
// all units at the unit amount of the tier holding the total, plus that
// tier's flat amount. A tier is reached by a positive quantity, so zero
// usage costs nothing. Included (free) units are taken off the quantity
// first, and tiers and packages then count the billable units only.
//
// # Periods
//
// Billing periods are calendar months in the billing time zone (UTC by
// default), or anniversary months from the customer's start date. A
// period is the half-open interval [start, end) of UTC instants, bounded
// by local midnights. A calendar customer who starts mid-month pays the
// first month's flat fee prorated by calendar day; the minimum spend and
// included units are not prorated.
package billing
