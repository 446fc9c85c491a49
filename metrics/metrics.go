// Package metrics holds Porthouse's Prometheus collectors. Each process has
// one *Metrics with its own registry; in supervise mode every worker's
// collectors carry a const label worker="N" and the supervisor gathers them
// all for /metrics.
//
// Hot-path counters are resolved once (no label lookups per message) and are
// added to once per message or per write batch, never per receiver.
package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the collectors of one process.
type Metrics struct {
	Registry *prometheus.Registry
	labels   prometheus.Labels

	socketsOpen *prometheus.GaugeVec
	handshakes  *prometheus.CounterVec
	messagesIn  *prometheus.CounterVec
	closes      *prometheus.CounterVec
	liveChanges *prometheus.CounterVec
	backpipe    *prometheus.CounterVec

	// Resolved children for the hot path.
	SocketsEnvelope, SocketsRaw prometheus.Gauge
	InEnvelope, InRaw           prometheus.Counter
	Deliveries                  prometheus.Counter
	BytesIn, BytesOut           prometheus.Counter
}

// New returns the collectors of a process; worker 0 is the single process
// or the supervisor, N > 0 a worker.
func New(worker int) *Metrics {
	reg := prometheus.NewRegistry()
	var constLabels prometheus.Labels
	if worker > 0 {
		constLabels = prometheus.Labels{"worker": strconv.Itoa(worker)}
	} else {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	f := factory{reg: reg, labels: constLabels}
	m := &Metrics{Registry: reg, labels: constLabels}
	m.socketsOpen = f.gaugeVec("porthouse_sockets_open", "Open WebSocket connections by mode.", "mode")
	m.handshakes = f.counterVec("porthouse_handshakes_total", "WebSocket handshakes by result: ok, or the refusal's error code.", "result")
	m.messagesIn = f.counterVec("porthouse_messages_in_total", "Data messages received from sockets, by mode.", "mode")
	m.closes = f.counterVec("porthouse_socket_closes_total", "Sockets closed by the server, by close code (4009 = slow consumer).", "code")
	m.liveChanges = f.counterVec("porthouse_live_changes_total", "Owner changes applied to live sockets, by kind.", "kind")
	m.backpipe = f.counterVec("porthouse_backpipe_requests_total", "Backpipe publish requests by HTTP status.", "status")
	m.Deliveries = f.counter("porthouse_deliveries_total", "Messages queued to receiving sockets.")
	m.BytesIn = f.counter("porthouse_bytes_in_total", "Payload bytes of data messages received.")
	m.BytesOut = f.counter("porthouse_bytes_out_total", "Bytes written to sockets.")
	m.SocketsEnvelope = m.socketsOpen.WithLabelValues("envelope")
	m.SocketsRaw = m.socketsOpen.WithLabelValues("raw")
	m.InEnvelope = m.messagesIn.WithLabelValues("envelope")
	m.InRaw = m.messagesIn.WithLabelValues("raw")
	return m
}

// CounterFunc registers a counter read from fn at scrape time.
func (m *Metrics) CounterFunc(name, help string, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: m.labels}, fn))
}

// GaugeFunc registers a gauge read from fn at scrape time.
func (m *Metrics) GaugeFunc(name, help string, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: m.labels}, fn))
}

// NewControl returns the collectors of a supervisor: the process, the Go
// runtime and the backpipe. Socket-path series come from its workers.
func NewControl() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{reg: reg}
	m := &Metrics{Registry: reg}
	m.backpipe = f.counterVec("porthouse_backpipe_requests_total", "Backpipe publish requests by HTTP status.", "status")
	return m
}

// Handshake counts a handshake result ("ok" or an error code).
func (m *Metrics) Handshake(result string) { m.handshakes.WithLabelValues(result).Inc() }

// Close counts a server-side close with code.
func (m *Metrics) Close(code int) { m.closes.WithLabelValues(strconv.Itoa(code)).Inc() }

// LiveChange counts an applied owner change.
func (m *Metrics) LiveChange(kind string) { m.liveChanges.WithLabelValues(kind).Inc() }

// Backpipe counts a backpipe request by status.
func (m *Metrics) Backpipe(status int) { m.backpipe.WithLabelValues(strconv.Itoa(status)).Inc() }

type factory struct {
	reg    *prometheus.Registry
	labels prometheus.Labels
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: f.labels})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, label string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: f.labels}, []string{label})
	f.reg.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, label string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: f.labels}, []string{label})
	f.reg.MustRegister(g)
	return g
}
