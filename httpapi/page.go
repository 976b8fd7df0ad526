package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
)

// Lists are paginated: a list route takes limit (1 to MaxLimit, default
// DefaultLimit) and cursor (the next_cursor of the previous page; absent
// for the first), and answers {"items": [...], "next_cursor": "..."},
// with next_cursor null on the last page. A cursor is opaque: clients
// pass it back as it is. Items are laid out as the command line's
// --format json lays out the same list.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// pageRequest is a page of a list: its first item and how many.
type pageRequest struct {
	offset, limit int
}

// parsePage reads limit and cursor.
func parsePage(r *http.Request) (pageRequest, error) {
	p := pageRequest{limit: DefaultLimit}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return p, keymeter.Errorf(keymeter.EINVALID, "limit %q: want a number from 1 to %d", v, MaxLimit)
		}
		p.limit = n
	}
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(string(bytes.TrimPrefix(b, []byte("o:"))))
		if err != nil || err2 != nil || !bytes.HasPrefix(b, []byte("o:")) || n < 0 {
			return p, keymeter.Errorf(keymeter.EINVALID, "cursor %q is not one this server gave", c)
		}
		p.offset = n
	}
	return p, nil
}

// bounds returns the part [i, j) of a list of n items on the page, and
// the cursor of the next page ("" on the last).
func (p pageRequest) bounds(n int) (i, j int, next string) {
	i = min(p.offset, n)
	j = min(i+p.limit, n)
	if j < n {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(j)))
	}
	return i, j, next
}

// writeItems writes a page whose items are the JSON array items.
func writeItems(w http.ResponseWriter, status int, items []byte, next string) error {
	var b bytes.Buffer
	b.WriteString(`{"items": `)
	b.Write(bytes.TrimRight(items, "\n"))
	b.WriteString(`, "next_cursor": `)
	if next == "" {
		b.WriteString("null")
	} else {
		c, _ := json.Marshal(next)
		b.Write(c)
	}
	b.WriteString("}\n")
	return writeJSONBytes(w, status, b.Bytes())
}

// writeTablePage writes the page p of a report table's rows.
func writeTablePage(w http.ResponseWriter, t *report.Table, p pageRequest) error {
	i, j, next := p.bounds(len(t.Rows))
	var b bytes.Buffer
	if err := (&report.Table{Columns: t.Columns, Rows: t.Rows[i:j]}).WriteJSON(&b); err != nil {
		return err
	}
	return writeItems(w, http.StatusOK, b.Bytes(), next)
}

// writeTable writes a report table as the command line's --format json.
func writeTable(w http.ResponseWriter, t *report.Table) error {
	var b bytes.Buffer
	if err := t.WriteJSON(&b); err != nil {
		return err
	}
	return writeJSONBytes(w, http.StatusOK, b.Bytes())
}

// writeJSON writes v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeJSONBytes(w, status, append(b, '\n'))
}

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}
