package api

import (
	"net/http"
	"strconv"
)

// SettingOpenSignup is the store setting that keeps the open sign-up switch
// across restarts ("true" or "false").
const SettingOpenSignup = "open_signup"

// persistOpenSignup stores the open sign-up switch.
func (s *Server) persistOpenSignup(r *http.Request, open bool) error {
	return s.store.SetSetting(r.Context(), SettingOpenSignup, strconv.FormatBool(open))
}
