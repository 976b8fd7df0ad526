package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/keymeter/keymeter/billing/invoice"
)

// PrintInvoice writes invoices, given as their canonical JSON, as
// billing/invoice's printable page (invoice.WriteHTML: the same bytes
// keymeter invoice --format html prints, one invoice per printed page,
// with each line's breakdown and query), for the page at
// InvoicePrintPath.
//
// That page is self-contained, with its style sheet inline. Its
// Content-Security-Policy allows exactly those inline styles, by their
// SHA-256 hashes, and nothing else: no script, no other resource. As
// Render does, PrintInvoice refuses documents of another customer for a
// customer's viewer (403, an error wrapping ErrScope), and anything for
// nobody (401).
func PrintInvoice(w http.ResponseWriter, v Viewer, docs ...[]byte) error {
	s := pageSpec{template: "print", frame: Frame{Viewer: v}}
	for _, b := range docs {
		d, err := invoice.Decode(b)
		if err != nil {
			s.err = err
			break
		}
		s.customers = append(s.customers, d.Customer)
	}
	if len(docs) == 0 {
		s.err = fmt.Errorf("no invoice to print")
	}
	if err := s.check(); err != nil {
		return Render(w, &refused{s})
	}
	var b bytes.Buffer
	if err := invoice.WriteHTML(&b, docs); err != nil {
		ep := &ErrorPage{Frame: Frame{Viewer: v}, Status: http.StatusInternalServerError}
		if rerr := Render(w, ep); rerr != nil {
			return fmt.Errorf("print invoices: %w (and the error page: %v)", err, rerr)
		}
		return fmt.Errorf("print invoices: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", inlineStylePolicy(b.Bytes()))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write the printable invoice: %w", err)
	}
	return nil
}

// refused is a page spec that failed its check, so that Render writes
// the error page for it and returns the reason.
type refused struct{ s pageSpec }

func (r *refused) spec() pageSpec { return r.s }

var (
	styleElement   = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	styleAttribute = regexp.MustCompile(`\sstyle="([^"]*)"`)
)

// inlineStylePolicy returns a Content-Security-Policy that allows the
// page's <style> elements and style attributes, by hash, and nothing
// else. Text a client controls is escaped by html/template (a quote is
// &#34;), so only the template's own attributes match.
func inlineStylePolicy(page []byte) string {
	var hashes []string
	add := func(s string) {
		sum := sha256.Sum256([]byte(s))
		h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !slices.Contains(hashes, h) {
			hashes = append(hashes, h)
		}
	}
	for _, m := range styleElement.FindAllSubmatch(page, -1) {
		add(string(m[1]))
	}
	attrs := false
	for _, m := range styleAttribute.FindAllSubmatch(page, -1) {
		add(html.UnescapeString(string(m[1])))
		attrs = true
	}
	style := "'none'"
	if len(hashes) > 0 {
		style = strings.Join(hashes, " ")
		if attrs {
			style = "'unsafe-hashes' " + style
		}
	}
	return "default-src 'none'; style-src " + style + "; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
}
