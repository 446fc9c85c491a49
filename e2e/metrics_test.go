package e2e

// GET /metrics before and after real traffic: every counter moves by what
// the test did, summed over the workers in supervise mode.

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// lvMetrics is one scrape of /metrics.
type lvMetrics map[string]*dto.MetricFamily

// lvScrape fetches and parses /metrics (Prometheus text format).
func lvScrape(t *testing.T, srv *testserver.Server) lvMetrics {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// get sums the series of a counter or gauge whose labels include want
// (the worker label is summed over). An absent family or series is 0.
func (m lvMetrics) get(name string, want ...string) float64 {
	f := m[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, s := range f.GetMetric() {
		if !lvLabelsMatch(s.GetLabel(), want) {
			continue
		}
		switch {
		case s.Counter != nil:
			sum += s.Counter.GetValue()
		case s.Gauge != nil:
			sum += s.Gauge.GetValue()
		case s.Untyped != nil:
			sum += s.Untyped.GetValue()
		}
	}
	return sum
}

// lvLabelsMatch reports whether labels include every name=value pair of
// want (name, value, name, value, ...).
func lvLabelsMatch(labels []*dto.LabelPair, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range labels {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// lvMetricDelta polls /metrics until the series has moved by exactly delta
// since before, failing if it is anything else after two seconds.
func lvMetricDelta(t *testing.T, srv *testserver.Server, before lvMetrics, delta float64, name string, labels ...string) {
	t.Helper()
	want := before.get(name, labels...) + delta
	var got float64
	deadline := time.Now().Add(2 * time.Second)
	for {
		got = lvScrape(t, srv).get(name, labels...)
		if got == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("%s%v = %v, want %v (+%v)", name, labels, got, want, delta)
	}
}

// lvMetricGrew polls until the series is greater than before.
func lvMetricGrew(t *testing.T, srv *testserver.Server, before lvMetrics, name string, labels ...string) {
	t.Helper()
	was := before.get(name, labels...)
	lvPoll(t, 2*time.Second, fmt.Sprintf("%s%v grows from %v", name, labels, was), func() bool {
		return lvScrape(t, srv).get(name, labels...) > was
	})
}

// TestMetricsTraffic drives handshakes, messages, deliveries, the backpipe,
// a live change and a kick, and checks each counter.
func TestMetricsTraffic(t *testing.T) {
	srv := testserver.Start(t)
	tok := lvToken(t, srv, srv.APIKey, map[string]any{"subscriptions": lvSubs(testserver.Sub("lobby", true, true))})
	srv.CreateRoom("mx-room", nil)
	before := lvScrape(t, srv)
	if srv.Mode == testserver.ModeSupervise {
		// Socket-path series are per worker.
		for _, s := range before["porthouse_handshakes_total"].GetMetric() {
			if !lvLabelsMatch(s.GetLabel(), []string{"worker", "1"}) && !lvLabelsMatch(s.GetLabel(), []string{"worker", "2"}) {
				t.Fatalf("handshake series without a worker label: %v", s)
			}
		}
	}

	// Three envelope sockets and one raw socket, all in lobby.
	a, _ := lvDial(t, srv, tok.Secret)
	b, _ := lvDial(t, srv, tok.Secret)
	c, _ := lvDial(t, srv, tok.Secret)
	r := lvRaw(t, srv, "lobby", tok.Secret)
	lvRefused(t, srv.WSURL+"/ws", "ph_not-a-real-token", http.StatusUnauthorized)
	lvRefused(t, srv.WSURL+"/ws/rooms/no-such-room", tok.Secret, http.StatusNotFound)
	lvMetricDelta(t, srv, before, 4, "porthouse_handshakes_total", "result", "ok")
	lvMetricDelta(t, srv, before, 1, "porthouse_handshakes_total", "result", "unauthorized")
	lvMetricDelta(t, srv, before, 1, "porthouse_handshakes_total", "result", "not_found")
	lvMetricDelta(t, srv, before, 3, "porthouse_sockets_open", "mode", "envelope")
	lvMetricDelta(t, srv, before, 1, "porthouse_sockets_open", "mode", "raw")

	// a sends 5 (to b, c, r); r sends 2 (to a, b, c); the backpipe
	// publishes 2 (to all four); one publish is refused.
	for i := range 5 {
		lvSend(t, a, "lobby", fmt.Sprintf("m%d", i))
	}
	for i := range 2 {
		if err := r.Write(ws.OpText, []byte(fmt.Sprintf("r%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		lvPublishOK(t, srv, "lobby", "text/plain", []byte(fmt.Sprintf("p%d", i)))
	}
	if st, body := lvPublish(t, srv, srv.APIKey, "no-such-room", "text/plain", []byte("x")); st != http.StatusNotFound {
		t.Fatalf("publish to an unknown room: %d %s", st, body)
	}
	if st, body := lvPublish(t, srv, "pk_bad", "lobby", "text/plain", []byte("x")); st != http.StatusUnauthorized {
		t.Fatalf("publish with a bad key: %d %s", st, body)
	}
	// Everyone got everything.
	for _, conn := range []*wstest.Conn{b, c} {
		for range 5 + 2 + 2 {
			lvNext(t, conn, "message")
		}
	}
	for range 2 + 2 {
		lvNext(t, a, "message")
	}
	for range 5 + 2 {
		if _, err := r.Read(lvWithin); err != nil {
			t.Fatalf("raw read: %v", err)
		}
	}
	lvMetricDelta(t, srv, before, 5, "porthouse_messages_in_total", "mode", "envelope")
	lvMetricDelta(t, srv, before, 2, "porthouse_messages_in_total", "mode", "raw")
	lvMetricDelta(t, srv, before, 5*3+2*3+2*4, "porthouse_deliveries_total")
	lvMetricDelta(t, srv, before, 2, "porthouse_backpipe_requests_total", "status", "202")
	lvMetricDelta(t, srv, before, 1, "porthouse_backpipe_requests_total", "status", "404")
	lvMetricDelta(t, srv, before, 1, "porthouse_backpipe_requests_total", "status", "401")
	lvMetricGrew(t, srv, before, "porthouse_bytes_in_total")
	lvMetricGrew(t, srv, before, "porthouse_bytes_out_total")

	// A live change.
	mid := lvScrape(t, srv)
	srv.MustAPI(http.StatusOK, "PUT", "/api/v1/tokens/"+tok.ID+"/subscriptions/mx-room", map[string]any{}, nil)
	for _, conn := range []*wstest.Conn{a, b, c} {
		lvGrant(t, conn, "room.added", "mx-room", true, true, "text", "binary")
	}
	lvMetricGrew(t, srv, mid, "porthouse_live_changes_total", "kind", "token_updated")
	lvMetricGrew(t, srv, mid, "porthouse_live_changes_total")

	// A kick.
	var id string
	for _, s := range lvSockets(t, srv, srv.APIKey, "lobby") {
		if s.Mode == "raw" && s.Token == tok.ID {
			id = s.ID
		}
	}
	srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/sockets/"+id, nil, nil)
	lvClosed(t, r, 4010, lvWithin)
	lvMetricDelta(t, srv, mid, 1, "porthouse_socket_closes_total", "code", "4010")
	lvMetricDelta(t, srv, mid, 1, "porthouse_live_changes_total", "kind", "kick")
	lvMetricDelta(t, srv, before, 0, "porthouse_sockets_open", "mode", "raw")

	// Closing the rest brings the gauge back down.
	for _, conn := range []*wstest.Conn{a, b, c} {
		conn.Close()
	}
	lvMetricDelta(t, srv, before, 0, "porthouse_sockets_open", "mode", "envelope")
}

// TestMetricsRevokeCloses: a token deletion is counted as closes with 4001
// and a token_revoked live change.
func TestMetricsRevokeCloses(t *testing.T) {
	srv := testserver.Start(t)
	tok := lvToken(t, srv, srv.APIKey, map[string]any{"subscriptions": lvSubs(testserver.Sub("lobby", true, true))})
	socks, _ := lvSpread(t, srv, tok.Secret, "lobby", 2)
	before := lvScrape(t, srv)
	srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+tok.ID, nil, nil)
	for _, c := range socks {
		lvClosed(t, c, 4001, lvWithin)
	}
	lvMetricDelta(t, srv, before, float64(len(socks)), "porthouse_socket_closes_total", "code", "4001")
	lvMetricGrew(t, srv, before, "porthouse_live_changes_total", "kind", "token_revoked")
	lvMetricDelta(t, srv, before, -float64(len(socks)), "porthouse_sockets_open", "mode", "envelope")
}
