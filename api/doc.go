// Package api serves the JSON API under /api/v1 (PROTOCOL.md, "HTTP API"):
// accounts and sessions, API keys, persistent rooms, tokens and their
// subscriptions, and the service endpoints (the backpipe
// POST /api/v1/rooms/{room}/messages, the live member list and kicking a
// socket).
//
// The API changes the store first and then tells the running server through
// Live, so that a change reaches connected sockets at once: subscription
// changes become room.added / room.removed, deleting or regenerating a token
// closes its sockets with 4001.
//
// Authentication is either `Authorization: Bearer pk_...` (an API key) or the
// `porthouse_session` cookie set by POST /api/v1/login. Every state-changing
// request that is not API-key authenticated (cookie requests, login, sign-up,
// logout) passes through http.CrossOriginProtection; a cross-site browser
// request is refused with 403 `forbidden`.
//
// Extensions beyond PROTOCOL.md: GET/DELETE /api/v1/me, PUT /api/v1/me/password
// ({"old_password","new_password"}; a wrong old password is 403 `forbidden`),
// GET /api/v1/accounts (admins), GET/PUT /api/v1/settings/open-signup
// ({"open": bool}; PUT for admins). Every error, including unknown paths (404)
// and wrong methods (405, with an Allow header), is a JSON body
// {"error":{"code","message"}}; a backpipe body of an unsupported
// Content-Type is 415 with code `bad_request`.
//
// Concurrency: a Server is safe for concurrent use. It owns one goroutine,
// which prunes idle rate limiters; Close stops it and waits, and is safe to
// call twice. Secrets (passwords, token secrets, API keys, session ids) are
// never logged.
package api
