// Package ui is Porthouse's HTML user interface, served at "/" next to the
// JSON API: server-rendered pages (html/template) for logging in, the
// dashboard, rooms, tokens, API keys, the account and the admin, plus a room
// console that watches a room live over a WebSocket.
//
// Pages only read: they render from the store and the live server (and, on
// an admin's dashboard only, server-wide figures summed from the metrics
// gatherer; owners never see figures that cross owners). Every
// change is made by the page's script calling the JSON API (/api/v1) with the
// session cookie, same-origin, so the API's http.CrossOriginProtection
// guards it; the UI's own state-changing endpoint (the console token) sits
// behind the same protection. Secrets (token and API key secrets) reach the
// browser only in the JSON answers of those calls, never in a rendered page,
// and are never logged.
//
// Templates and assets are embedded (embed.FS); nothing is fetched from the
// network. A Handler is safe for concurrent use and owns no goroutines.
package ui
