package server

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/ui"
)

// HTTPDeps are what the non-WebSocket HTTP surface is built from, in both
// process modes.
type HTTPDeps struct {
	API   *api.Server
	Store *store.Store
	Live  api.Live
	Log   hclog.Logger
	// Ready reports readiness for /readyz and details for its body.
	Ready func() (bool, map[string]any)
	// Metrics gathers what /metrics serves.
	Metrics prometheus.Gatherer
}

// HTTPHandler serves /healthz, /readyz, the JSON API under /api/ and the
// HTML UI at /.
func HTTPHandler(d HTTPDeps) http.Handler {
	if d.Log == nil {
		d.Log = hclog.NewNullLogger()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, details := d.Ready()
		body := map[string]any{"status": "ready"}
		for k, v := range details {
			body[k] = v
		}
		if !ok {
			body["status"] = "not ready"
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.Handle("/api/", d.API.Handler())
	mux.Handle("/", ui.New(ui.Config{Store: d.Store, Live: d.Live, API: d.API, Logger: d.Log.Named("ui"), Metrics: d.Metrics}))
	return mux
}

// lazyHandler builds its handler on first use: the puddle needs an HTTP
// handler before the API that the handler serves exists.
type lazyHandler struct {
	once sync.Once
	make func() http.Handler
	h    http.Handler
}

func (l *lazyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.once.Do(func() { l.h = l.make() })
	l.h.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
