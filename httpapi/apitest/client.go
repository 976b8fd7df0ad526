package apitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Client calls the API at a base URL ("http://127.0.0.1:8080") with a
// token, and checks every response against the OpenAPI document: use it
// in tests of an httptest server and of the real keymeter serve alike.
type Client struct {
	Base  string
	Token string // sent as Authorization: Bearer; "" sends none
	Doc   *Doc
	HTTP  *http.Client // nil: http.DefaultClient
	// Seen, when set, records each checked response's path template,
	// method and status, for a test of what was exercised.
	Seen *Seen
}

// Seen records responses: "GET /api/v1/usage 200".
type Seen struct {
	mu sync.Mutex
	m  map[string]bool
}

// Add records one response.
func (s *Seen) Add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	s.m[k] = true
}

// Has reports whether a response was recorded.
func (s *Seen) Has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

// Response is an answer of the API.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// With returns a copy of c that sends token.
func (c *Client) With(token string) *Client {
	d := *c
	d.Token = token
	return &d
}

// Do sends a request and checks its response against the document; the
// test fails on a transport error or a response the document does not
// describe.
func (c *Client) Do(t testing.TB, method, path string, body string) Response {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, strings.TrimRight(c.Base, "/")+path, rb)
	if err != nil {
		t.Fatal(err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the body: %v", method, path, err)
	}
	if c.Doc != nil {
		u, err := url.Parse(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Doc.Check(method, u.Path, resp.StatusCode, resp.Header.Get("Content-Type"), b); err != nil {
			t.Errorf("%v\nbody: %.500s", err, b)
		}
		if c.Seen != nil {
			c.Seen.Add(fmt.Sprintf("%s %s %d", method, c.Doc.Match(u.Path), resp.StatusCode))
		}
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Get is Do with GET and no body.
func (c *Client) Get(t testing.TB, path string) Response {
	t.Helper()
	return c.Do(t, http.MethodGet, path, "")
}

// Want fails the test unless r has status.
func (r Response) Want(t testing.TB, what string, status int) Response {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d\nbody: %.500s", what, r.Status, status, r.Body)
	}
	return r
}

// ErrorCode returns the code of r's JSON error body; "" when it has none.
func (r Response) ErrorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &e) != nil {
		return ""
	}
	return e.Error.Code
}
