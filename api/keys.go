package api

import (
	"net/http"

	"github.com/porthouse/porthouse/store"
)

// keyBody is POST /api/v1/api-keys.
type keyBody struct {
	Name string `json:"name"`
}

// keyWithSecret is an API key as created: the only answer with its secret.
type keyWithSecret struct {
	store.APIKey
	Secret string `json:"secret"`
}

// listKeys: GET /api/v1/api-keys → 200 [key].
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, c caller) {
	keys, err := s.store.ListAPIKeys(r.Context(), c.acct.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(keys))
}

// createKey: POST /api/v1/api-keys {name} → 201 key with "secret".
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, c caller) {
	var body keyBody
	if !s.decode(w, r, &body, decodeOptions{allowEmpty: true}) {
		return
	}
	key, secret, err := s.store.CreateAPIKey(r.Context(), c.acct.ID, body.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("api key created", "username", c.acct.Username, "key", key.ID)
	writeJSON(w, http.StatusCreated, keyWithSecret{APIKey: key, Secret: secret})
}

// deleteKey: DELETE /api/v1/api-keys/{id} → 204.
func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("id")
	if err := s.store.DeleteAPIKey(r.Context(), c.acct.ID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("api key deleted", "username", c.acct.Username, "key", id)
	w.WriteHeader(http.StatusNoContent)
}
