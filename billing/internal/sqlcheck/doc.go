// Package sqlcheck holds a test, and nothing else: it runs the SQL that
// billing.MeterFilter.SQLWhere writes on a real DuckDB and checks that it
// selects exactly the requests MeterFilter.Matches accepts. It lives apart
// from package billing so that billing's own tests stay free of cgo.
package sqlcheck
