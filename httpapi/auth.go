package httpapi

import (
	"net/http"
	"strings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/service"
)

// apiHandler handles an API request from an authenticated principal
// (the zero Principal for a public route). It writes its response, or
// returns an error, which the server writes as JSON.
type apiHandler func(w http.ResponseWriter, r *http.Request, p service.Principal) error

// handle registers an API route: the token is checked as a says (401
// without a valid one, 403 for a customer's token on an admin route),
// then h runs.
func (s *server) handle(pattern string, a access, h apiHandler) {
	s.routes = append(s.routes, route{pattern: pattern, access: a})
	s.mux.Handle(pattern, s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p service.Principal
		if a != public {
			var err error
			if p, err = s.bearer(r); err != nil {
				s.fail(w, r, err)
				return
			}
			if a == admin {
				if err := p.RequireAdmin(); err != nil {
					s.fail(w, r, err)
					return
				}
			}
		}
		if err := h(w, r, p); err != nil {
			s.fail(w, r, err)
		}
	})))
}

// bearer authenticates the request's Authorization: Bearer token.
func (s *server) bearer(r *http.Request) (service.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return service.Principal{}, keymeter.Errorf(keymeter.EUNAUTHORIZED, "no token: send Authorization: Bearer TOKEN (keymeter tokens create)")
	}
	return s.cfg.Service.Authenticate(r.Context(), strings.TrimSpace(token))
}
