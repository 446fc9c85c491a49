package ui

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/porthouse/porthouse/store"
)

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // the active top-nav entry
	Account store.Account
	Authed  bool
	Signup  bool   // open sign-up is on
	Page    string // names the page for the script (body data-page)
	Data    any
}

// pages holds one parsed template set per page.
type pages struct {
	byName map[string]*template.Template
}

// loadPages parses the layout with each page template. A parse error is a
// bug in the embedded files, found by any test, so it panics.
func loadPages(a *assets) *pages {
	funcs := template.FuncMap{
		"asset":    a.url,
		"date":     formatDate,
		"datetime": formatDateTime,
		"isoLocal": isoLocal,
		"ago":      ago,
		"has":      slices.Contains[[]string],
		"path":     url.PathEscape,
		"subsOf":   subsOf,
		"subFor":   subFor,
		"newRoom":  func() store.Room { return store.Room{Format: "any"} },
	}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html"))
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic("ui: templates: " + err.Error())
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimPrefix(n, "templates/")
		if name == "layout.html" || name == "partials.html" {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(files, n))
		p.byName[strings.TrimSuffix(name, ".html")] = t
	}
	return p
}

// render writes a page. Pages are never cached: they show live state.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := h.pages.byName[name]
	if !ok {
		h.serverError(w, r, fmt.Errorf("no page template %q", name))
		return
	}
	if v.Page == "" {
		v.Page = name
	}
	v.Signup = h.openSignup()
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.serverError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// serverError logs an unexpected error and answers a plain error page.
func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("ui request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = fmt.Fprint(w, `<!doctype html><title>Error · Porthouse</title><p>Something went wrong on our side. It has been logged; please try again.</p>`)
}

// notFound answers an HTML 404 (or JSON under /ui/ for scripts).
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/ui/") && !strings.HasPrefix(r.URL.Path, "/ui/assets/") {
		h.writeJSONError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
		return
	}
	acct, ok, err := h.sessionAccount(r)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusNotFound, "notfound", view{Title: "Not found", Account: acct, Authed: ok, Data: r.URL.Path})
}

func formatDate(t time.Time) string { return t.Local().Format("2 Jan 2006") }

func formatDateTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Local().Format("2 Jan 2006 15:04")
}

// isoLocal formats t for an <input type="datetime-local"> in UTC (the
// script converts it to the browser's zone).
func isoLocal(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ago is a short relative time: "just now", "5 min ago", "3 days ago".
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
}

// subsOf lists a token's rooms for display.
func subsOf(t store.Token) []store.Subscription { return t.Subscriptions }

// subFor finds the token's subscription to room (zero when none).
func subFor(t store.Token, room string) store.Subscription {
	for _, s := range t.Subscriptions {
		if s.Room == room {
			return s
		}
	}
	return store.Subscription{}
}

// queryEscape escapes s for a query parameter.
func queryEscape(s string) string { return url.QueryEscape(s) }
