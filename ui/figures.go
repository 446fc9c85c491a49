package ui

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Metric names the server panel reads (README "Metrics").
const (
	metricSocketsOpen = "porthouse_sockets_open"
	metricHandshakes  = "porthouse_handshakes_total"
	metricMessagesIn  = "porthouse_messages_in_total"
	metricDeliveries  = "porthouse_deliveries_total"
	metricBytesOut    = "porthouse_bytes_out_total"
	metricCloses      = "porthouse_socket_closes_total"
)

// closeSlowConsumer is the close code of a socket dropped as a slow consumer.
const closeSlowConsumer = "4009"

// serverFigures are the server-wide figures of an admin's dashboard: each
// summed over every label and every worker of the gathered series. The
// counters are cumulative; the page turns successive samples into rates.
type serverFigures struct {
	// SampledAt is when the figures were gathered, in Unix milliseconds.
	SampledAt          int64 `json:"sampled_at"`
	SocketsOpen        int64 `json:"sockets_open"`
	MessagesIn         int64 `json:"messages_in_total"`
	Deliveries         int64 `json:"deliveries_total"`
	BytesOut           int64 `json:"bytes_out_total"`
	SlowConsumerCloses int64 `json:"slow_consumer_closes_total"`
	HandshakesRefused  int64 `json:"handshakes_refused_total"`
	// Workers are the open sockets per worker under supervise, by worker
	// number; empty in a single process.
	Workers []workerFigures `json:"workers,omitempty"`
	// Partial is set when some of the metrics could not be gathered (a
	// worker restarting, say): the sums then leave them out.
	Partial bool `json:"partial,omitempty"`
}

// workerFigures are one worker's open sockets.
type workerFigures struct {
	Worker  string `json:"worker"`
	Sockets int64  `json:"sockets"`
}

// serverFigures gathers the server-wide figures; nil when the Handler has
// no gatherer. A gather error keeps what was gathered and marks it partial.
func (h *Handler) serverFigures() *serverFigures {
	if h.cfg.Metrics == nil {
		return nil
	}
	mfs, err := h.cfg.Metrics.Gather()
	f := figuresOf(mfs, time.Now())
	if err != nil {
		h.log.Debug("gather metrics for the dashboard", "error", err)
		f.Partial = true
	}
	return &f
}

// figuresOf sums the families the server panel shows.
func figuresOf(mfs []*dto.MetricFamily, now time.Time) serverFigures {
	f := serverFigures{SampledAt: now.UnixMilli()}
	perWorker := map[string]int64{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case metricSocketsOpen:
			for _, m := range mf.GetMetric() {
				n := int64(value(m))
				f.SocketsOpen += n
				if w, ok := label(m, "worker"); ok {
					perWorker[w] += n
				}
			}
		case metricMessagesIn:
			f.MessagesIn += sum(mf, nil)
		case metricDeliveries:
			f.Deliveries += sum(mf, nil)
		case metricBytesOut:
			f.BytesOut += sum(mf, nil)
		case metricCloses:
			f.SlowConsumerCloses += sum(mf, func(m *dto.Metric) bool {
				code, _ := label(m, "code")
				return code == closeSlowConsumer
			})
		case metricHandshakes:
			f.HandshakesRefused += sum(mf, func(m *dto.Metric) bool {
				result, ok := label(m, "result")
				return ok && result != "ok"
			})
		}
	}
	for w, n := range perWorker {
		f.Workers = append(f.Workers, workerFigures{Worker: w, Sockets: n})
	}
	slices.SortFunc(f.Workers, func(a, b workerFigures) int {
		an, aerr := strconv.Atoi(a.Worker)
		bn, berr := strconv.Atoi(b.Worker)
		if aerr == nil && berr == nil {
			return cmp.Compare(an, bn)
		}
		return cmp.Compare(a.Worker, b.Worker)
	})
	return f
}

// sum adds up the family's series that keep accepts (all when keep is nil).
func sum(mf *dto.MetricFamily, keep func(*dto.Metric) bool) int64 {
	var total float64
	for _, m := range mf.GetMetric() {
		if keep == nil || keep(m) {
			total += value(m)
		}
	}
	return int64(total)
}

// value is a counter's, gauge's or untyped series' value.
func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// label returns the value of the series' label name.
func label(m *dto.Metric, name string) (string, bool) {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue(), true
		}
	}
	return "", false
}
