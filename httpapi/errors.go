package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/keymeter/keymeter"
)

// statuses maps keymeter's error codes to HTTP statuses, as
// cmd/keymeter maps them to exit codes. The README lists them; keep both
// in step. Any other error is a 500 whose message is not shown.
var statuses = map[string]int{
	keymeter.EINVALID:      http.StatusBadRequest,
	keymeter.EUNAUTHORIZED: http.StatusUnauthorized,
	keymeter.EFORBIDDEN:    http.StatusForbidden,
	keymeter.ENOTFOUND:     http.StatusNotFound,
	keymeter.ECONFLICT:     http.StatusConflict,
	keymeter.EPARTIAL:      http.StatusInternalServerError,
	keymeter.EINTERNAL:     http.StatusInternalServerError,
}

// errorBody is the JSON of every error: {"error": {"code", "message"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statusOf returns err's status and the code and message to show.
// Internal errors show a generic message: their text is for the log.
func statusOf(err error) (status int, code, message string) {
	code = keymeter.ErrorCode(err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, keymeter.EINTERNAL, "the request was cancelled or timed out"
	}
	status, ok := statuses[code]
	if !ok {
		status, code = http.StatusInternalServerError, keymeter.EINTERNAL
	}
	if status == http.StatusInternalServerError {
		return status, code, "internal error"
	}
	var e *keymeter.Error
	errors.As(err, &e)
	return status, code, e.Message
}

// fail writes err as a JSON error, logging those that are the server's
// fault.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := statusOf(err)
	if status >= 500 {
		s.log.Error("http request failed", "route", r.Pattern, "error", err)
	}
	writeError(w, r, status, code, msg)
}

// writeError writes the JSON error body with status.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="keymeter"`)
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: keymeter.ValidUTF8(msg)}})
	w.Write(append(b, '\n'))
}
