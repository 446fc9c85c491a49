package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
)

//go:embed assets templates
var files embed.FS

// asset is one embedded static file and its content version.
type asset struct {
	body    []byte
	version string // first 12 hex digits of the SHA-256 of body
	ctype   string
}

// assets are the embedded static files by name, loaded once.
type assets struct {
	byName map[string]asset
}

// loadAssets reads every file under assets/ and versions it.
func loadAssets() *assets {
	a := &assets{byName: map[string]asset{}}
	entries, err := fs.ReadDir(files, "assets")
	if err != nil {
		panic("ui: embedded assets: " + err.Error())
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := files.ReadFile("assets/" + e.Name())
		if err != nil {
			panic("ui: embedded asset " + e.Name() + ": " + err.Error())
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		if ctype == "" {
			ctype = "text/plain; charset=utf-8"
		}
		a.byName[e.Name()] = asset{body: body, version: hex.EncodeToString(sum[:6]), ctype: ctype}
	}
	return a
}

// url is the versioned address of an asset; a new build changes it, so
// browsers may cache each version for good.
func (a *assets) url(name string) string {
	as, ok := a.byName[name]
	if !ok {
		panic("ui: no asset " + name)
	}
	return "/ui/assets/" + name + "?v=" + as.version
}

// serveAsset: GET /ui/assets/{file}.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	as, ok := h.assets.byName[r.PathValue("file")]
	if !ok {
		h.notFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", as.ctype)
	hd.Set("ETag", `"`+as.version+`"`)
	if r.URL.Query().Get("v") == as.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+as.version+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(as.body)
}
