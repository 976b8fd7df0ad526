package duckdb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/keymeter/keymeter"
)

// Ad-hoc SQL (keymeter sql) is read-only twice over:
//
//   - The statement check (prepareRead) lets one statement through, and
//     only a SELECT (WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE are
//     SELECTs) that calls none of the few table functions that change the
//     database's state (deniedFunctions). It runs before anything is
//     bound or executed, on any handle.
//   - A store opened with Options.Sandbox is also locked down by DuckDB
//     itself (sandbox): read-only, no file but the store's own and those
//     under Options.AllowedDirs, no extension loaded or installed, and the
//     configuration locked.
//
// Results stream: DuckDB produces a chunk of rows when the previous one
// has been handed to the RowWriter, so memory stays bounded whatever the
// result's size. duckdb-go materialises every result before its first
// row, so the query runs on a connection of our own through DuckDB's C
// API (duckdb-go-bindings), on the same database instance.

// readOnlyForms lists what a read query may be, for error messages.
const readOnlyForms = "only read queries run (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE), over the store's own tables, views and files"

// deniedFunctions are table functions that a SELECT can call and that
// change the database's state, which the engine's sandbox and its locked
// configuration do not stop: logging and profiling switches (file logging
// would write files, and can crash the process when the sandbox refuses
// them), checkpoints, the parser's switches, functions that run SQL from a
// string (which the check would not see), and the Arrow scans, which read
// memory at a given address.
var deniedFunctions = map[string]bool{
	"enable_logging": true, "disable_logging": true, "truncate_duckdb_logs": true, "write_log": true,
	"enable_profiling": true, "disable_profiling": true,
	"checkpoint": true, "force_checkpoint": true,
	"enable_peg_parser": true, "disable_peg_parser": true,
	"query": true, "json_execute_serialized_sql": true,
	"arrow_scan": true, "arrow_scan_dumb": true,
}

// StreamSQL implements keymeter.SQLQuerier. The query runs with Trino's
// (Athena's) integer division, so that SUM(sc_bytes) / 1024 / 1024 means
// what it means in Athena.
func (s *DB) StreamSQL(ctx context.Context, query string, w keymeter.RowWriter) error {
	if strings.IndexByte(query, 0) >= 0 {
		return keymeter.Errorf(keymeter.EINVALID, "the query holds a NUL byte")
	}
	var conn bindings.Connection
	if bindings.Connect(s.cdb, &conn) == bindings.StateError {
		return fmt.Errorf("sql: connect")
	}
	defer bindings.Disconnect(&conn)
	if !s.opts.Sandbox {
		// A sandboxed store has it on for every connection, and its
		// configuration locked.
		if err := execC(conn, `SET integer_division = true`); err != nil {
			return fmt.Errorf("sql: %w", err)
		}
	}

	// Interrupt the query when ctx is done, but never after the
	// connection is gone.
	var mu sync.Mutex
	done := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			bindings.Interrupt(conn)
		}
	})
	defer func() {
		stop()
		mu.Lock()
		done = true
		mu.Unlock()
	}()

	if err := s.createLakeViews(ctx, conn); err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	stmt, err := s.prepareRead(ctx, conn, query)
	if err != nil {
		return err
	}
	defer bindings.DestroyPrepare(&stmt)
	var pending bindings.PendingResult
	if bindings.PendingPreparedStreaming(stmt, &pending) == bindings.StateError {
		msg := bindings.PendingError(pending)
		bindings.DestroyPending(&pending)
		return queryError(ctx, msg)
	}
	var res bindings.Result
	state := bindings.ExecutePending(pending, &res)
	bindings.DestroyPending(&pending)
	defer bindings.DestroyResult(&res)
	if state == bindings.StateError {
		return queryError(ctx, bindings.ResultError(&res))
	}
	return streamResult(ctx, &res, w)
}

// QuerySQL runs a read query as StreamSQL does and returns its whole
// result: for results known to be small.
func (s *DB) QuerySQL(ctx context.Context, query string) (*keymeter.Table, error) {
	t := &keymeter.Table{}
	if err := s.StreamSQL(ctx, query, t); err != nil {
		return nil, err
	}
	return t, nil
}

// streamResult hands res to w, chunk by chunk.
func streamResult(ctx context.Context, res *bindings.Result, w keymeter.RowWriter) error {
	n := int(bindings.ColumnCount(res))
	names := make([]string, n)
	cols := make([]*column, n)
	for i := range n {
		names[i] = bindings.ColumnName(res, bindings.IdxT(i))
		lt := bindings.ColumnLogicalType(res, bindings.IdxT(i))
		c, err := newColumn(lt)
		bindings.DestroyLogicalType(&lt)
		if err != nil {
			return keymeter.Errorf(keymeter.EINVALID, "column %q: %v", names[i], err)
		}
		cols[i] = c
	}
	if err := w.Begin(names); err != nil {
		return err
	}
	values := make([]any, n)
	var text arena
	for {
		chunk := bindings.FetchChunk(*res)
		if chunk.Ptr == nil {
			break
		}
		size := uint64(bindings.DataChunkGetSize(chunk))
		for i, c := range cols {
			c.bind(bindings.DataChunkGetVector(chunk, bindings.IdxT(i)))
		}
		for r := range size {
			for i, c := range cols {
				values[i] = c.value(r, &text)
			}
			if err := w.Row(values); err != nil {
				bindings.DestroyDataChunk(&chunk)
				return err
			}
		}
		bindings.DestroyDataChunk(&chunk)
	}
	if msg := bindings.ResultError(res); msg != "" {
		return queryError(ctx, msg)
	}
	return ctx.Err()
}

// prepareRead checks that query is one read query (see the top of this
// file) and prepares it on conn.
func (s *DB) prepareRead(ctx context.Context, conn bindings.Connection, query string) (bindings.PreparedStatement, error) {
	var stmt bindings.PreparedStatement
	parsed, err := s.parseRead(ctx, query)
	if err != nil {
		return stmt, err
	}
	var ext bindings.ExtractedStatements
	n := bindings.ExtractStatements(conn, query, &ext)
	defer bindings.DestroyExtracted(&ext)
	switch {
	case n > 1 || len(parsed.Statements) > 1:
		return stmt, keymeter.Errorf(keymeter.EINVALID, "the query holds %d statements: run one at a time (%s)", max(int(n), len(parsed.Statements)), readOnlyForms)
	case parsed.notSelect:
		return stmt, notAllowed(firstKeyword(query))
	case n == 0 && bindings.ExtractStatementsError(ext) == "":
		return stmt, keymeter.Errorf(keymeter.EINVALID, "the query is empty")
	case n == 0:
		return stmt, queryError(ctx, bindings.ExtractStatementsError(ext))
	}
	if name := deniedFunction(parsed.Statements); name != "" {
		return stmt, notAllowed("the function " + name)
	}
	if bindings.PrepareExtractedStatement(conn, ext, 0, &stmt) == bindings.StateError {
		msg := bindings.PrepareError(stmt)
		bindings.DestroyPrepare(&stmt)
		return stmt, queryError(ctx, msg)
	}
	if t := bindings.PreparedStatementType(stmt); t != bindings.StatementTypeSelect {
		bindings.DestroyPrepare(&stmt)
		return stmt, notAllowed(firstKeyword(query))
	}
	return stmt, nil
}

// parsedQuery is what DuckDB's parser makes of a query: its statements'
// syntax trees, or notSelect when one of them is not a SELECT.
type parsedQuery struct {
	Statements []any
	notSelect  bool
}

// parseRead parses query with DuckDB's own parser (json_serialize_sql),
// which binds and runs nothing.
func (s *DB) parseRead(ctx context.Context, query string) (*parsedQuery, error) {
	var text string
	if err := s.db.QueryRowContext(ctx, `SELECT CAST(json_serialize_sql(CAST(? AS VARCHAR)) AS VARCHAR)`, query).Scan(&text); err != nil {
		return nil, fmt.Errorf("sql: check the query: %w", err)
	}
	var tree struct {
		Error        bool   `json:"error"`
		ErrorType    string `json:"error_type"`
		ErrorMessage string `json:"error_message"`
		Statements   []any  `json:"statements"`
	}
	if err := json.Unmarshal([]byte(text), &tree); err != nil {
		return nil, fmt.Errorf("sql: check the query: %w", err)
	}
	switch {
	case tree.Error && tree.ErrorType == "not implemented": // "Only SELECT statements can be serialized"
		return &parsedQuery{notSelect: true}, nil
	case tree.Error:
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s", tree.ErrorMessage)
	}
	return &parsedQuery{Statements: tree.Statements}, nil
}

// deniedFunction returns the name of a denied function that the parsed
// statements call (anywhere: in a CTE, a subquery, a join), or "".
func deniedFunction(node any) string {
	switch n := node.(type) {
	case map[string]any:
		if name, ok := n["function_name"].(string); ok && deniedFunctions[strings.ToLower(name)] {
			return strings.ToLower(name)
		}
		for _, v := range n {
			if name := deniedFunction(v); name != "" {
				return name
			}
		}
	case []any:
		for _, v := range n {
			if name := deniedFunction(v); name != "" {
				return name
			}
		}
	}
	return ""
}

// notAllowed is the error for a statement that is not a read query.
func notAllowed(what string) error {
	return keymeter.Errorf(keymeter.EINVALID, "%s is not allowed: %s", what, readOnlyForms)
}

// firstKeyword names a statement by its first word (COPY, ATTACH, SET),
// for error messages.
func firstKeyword(query string) string {
	q := query
	for {
		q = strings.TrimLeft(q, " \t\r\n\f(")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return "this statement"
			}
			q = q[i:]
			continue
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q, "*/")
			if i < 0 {
				return "this statement"
			}
			q = q[i+2:]
			continue
		}
		break
	}
	end := 0
	for end < len(q) && (q[end] >= 'a' && q[end] <= 'z' || q[end] >= 'A' && q[end] <= 'Z' || q[end] == '_') {
		end++
	}
	word := strings.ToUpper(q[:end])
	switch word {
	case "", "SELECT", "WITH", "FROM", "VALUES", "DESCRIBE", "SHOW", "SUMMARIZE", "TABLE", "PIVOT", "UNPIVOT":
		return "this statement"
	}
	return word
}

// queryError turns DuckDB's message about a query into an error: the
// user's (EINVALID), or ctx's if the query was interrupted.
func queryError(ctx context.Context, msg string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rest, ok := strings.CutPrefix(msg, "Permission Error: "); ok {
		return keymeter.Errorf(keymeter.EINVALID, "a query reads only the store's own tables, views and files: %s", rest)
	}
	return keymeter.Errorf(keymeter.EINVALID, "%s", msg)
}

// execC runs a statement that returns nothing on a C connection.
func execC(conn bindings.Connection, query string) error {
	var res bindings.Result
	state := bindings.Query(conn, query, &res)
	defer bindings.DestroyResult(&res)
	if state == bindings.StateError {
		return fmt.Errorf("%s: %s", query, bindings.ResultError(&res))
	}
	return nil
}
