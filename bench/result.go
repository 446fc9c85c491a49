package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Result is the figures of one run. JSON field names are stable: scripts
// read `porthouse bench -json`.
type Result struct {
	Command    string    `json:"command,omitempty"`
	Started    time.Time `json:"started"`
	Target     string    `json:"target"` // what was measured, e.g. "porthouse run (spawned)"
	URL        string    `json:"url"`
	Mode       string    `json:"mode"`
	Via        string    `json:"via"`
	Idle       bool      `json:"idle"`
	Conns      int       `json:"conns"`
	Rooms      int       `json:"rooms"`
	Publishers int       `json:"publishers"`
	Procs      int       `json:"procs"`
	Size       int       `json:"size"`
	Rate       float64   `json:"rate"` // messages/s asked for; 0 = as fast as possible
	Inflight   int       `json:"inflight"`
	DurationS  float64   `json:"duration_s"`

	Opened           int64          `json:"opened"` // sockets, receivers and publishers
	Failed           int64          `json:"failed"`
	FailReasons      map[string]int `json:"fail_reasons,omitempty"`
	ConnectSeconds   float64        `json:"connect_s"`
	HandshakesPerSec float64        `json:"handshakes_per_s"`
	HandshakeMs      Percentiles    `json:"handshake_ms"`

	Sent             int64          `json:"sent"`
	Expected         int64          `json:"expected"` // deliveries: sent × receivers of the room (minus the sender without echo)
	Received         int64          `json:"received"` // deliveries counted, drain included
	Lost             int64          `json:"lost"`     // expected − received, at least 0
	Extra            int64          `json:"extra"`    // received beyond expected (a target that echoes, or duplicates)
	LoadSeconds      float64        `json:"load_s"`   // from the publishers' start to their stop
	MessagesPerSec   float64        `json:"msgs_per_s"`
	DeliveriesPerSec float64        `json:"deliveries_per_s"` // deliveries counted by the stop, per load second
	Latency          Percentiles    `json:"latency_ms"`
	Foreign          int64          `json:"foreign,omitempty"`
	OutOfOrder       int64          `json:"out_of_order"`
	Self             int64          `json:"self_deliveries,omitempty"`
	Receipts         int64          `json:"receipts,omitempty"`
	SendErrors       int64          `json:"send_errors"`
	SendError        string         `json:"send_error,omitempty"`
	Closed           map[string]int `json:"closed_during_run,omitempty"` // close code → sockets the server (or the network) closed
	CloseError       string         `json:"close_error,omitempty"`

	Processes []ProcFigures  `json:"processes"` // each client process's part
	Server    *ServerFigures `json:"server,omitempty"`
	Generator CPUFigures     `json:"generator_cpu_s"`
	Timeline  []Point        `json:"timeline,omitempty"`
	Warnings  []string       `json:"warnings,omitempty"`

	latency *hdrhistogram.Histogram
}

// Percentiles of a latency histogram, in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// percentiles reads a histogram of microseconds.
func percentiles(h *hdrhistogram.Histogram) Percentiles {
	if h == nil || h.TotalCount() == 0 {
		return Percentiles{}
	}
	ms := func(us int64) float64 { return math.Round(float64(us)) / 1000 }
	return Percentiles{
		Count: h.TotalCount(),
		Mean:  math.Round(h.Mean()) / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// ServerFigures are the server process tree's CPU and memory, read from
// /proc (the spawned server, or -pid; with supervise, its workers too).
type ServerFigures struct {
	PID          int     `json:"pid"`
	Procs        int     `json:"procs"`
	RSSBefore    int64   `json:"rss_before"`    // bytes, before connecting
	RSSConnected int64   `json:"rss_connected"` // bytes, every socket open
	RSSAfter     int64   `json:"rss_after"`     // bytes, after the hold (-idle) or the load
	RSSPerConn   float64 `json:"rss_per_conn"`  // bytes: (RSS after the hold (-idle, no socket lost) or connected − before) / sockets opened
	CPUConnect   float64 `json:"cpu_connect_s"`
	CPULoad      float64 `json:"cpu_load_s"` // the hold or the load and drain
	CPUTotal     float64 `json:"cpu_total_s"`
}

// ProcFigures are one client process's part of the figures.
type ProcFigures struct {
	Opened   int64   `json:"opened"`
	Failed   int64   `json:"failed"`
	Sent     int64   `json:"sent"`
	Received int64   `json:"received"`
	CPU      float64 `json:"cpu_s"`
}

// CPUFigures are the load generator's CPU seconds (every client process).
type CPUFigures struct {
	Connect float64 `json:"connect"`
	Load    float64 `json:"load"`
	Total   float64 `json:"total"`
}

// Point is one second of the load.
type Point struct {
	T          float64 `json:"t"` // seconds since the publishers started
	Sent       float64 `json:"sent_per_s"`
	Deliveries float64 `json:"deliveries_per_s"`
}

// LatencyHistogram is the merged latency histogram (microseconds), or nil.
func (r *Result) LatencyHistogram() *hdrhistogram.Histogram { return r.latency }

// WriteJSON writes the result as one JSON line.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable writes the result as a table for people.
func (r *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "  %-22s %s\n", k, v) }
	fmt.Fprintf(&b, "porthouse bench: %s\n", r.Target)
	row("url", r.URL)
	if r.Idle {
		row("workload", fmt.Sprintf("idle: %s sockets in %s room(s), held %s", num(r.Conns), num(r.Rooms), secs(r.DurationS)))
	} else {
		rate := "as fast as possible, " + num(r.Inflight) + " in flight per publisher"
		if r.Rate > 0 {
			rate = fmt.Sprintf("%s msg/s in total", num(int(r.Rate)))
		}
		row("workload", fmt.Sprintf("%s receivers in %s room(s), %s publisher(s) via %s, %d B, %s, %s",
			num(r.Conns), num(r.Rooms), num(r.Publishers), r.Via, r.Size, rate, secs(r.DurationS)))
	}
	row("mode, client procs", fmt.Sprintf("%s, %d", r.Mode, r.Procs))
	row("sockets", fmt.Sprintf("%s opened, %s failed", num64(r.Opened), num64(r.Failed)))
	for _, k := range sortedKeys(r.FailReasons) {
		row("  failed", fmt.Sprintf("%s × %s", num(r.FailReasons[k]), k))
	}
	row("handshakes", fmt.Sprintf("%s/s (%s for all; p50 %s, p99 %s)", num(int(r.HandshakesPerSec)), secs(r.ConnectSeconds), ms(r.HandshakeMs.P50), ms(r.HandshakeMs.P99)))
	if !r.Idle {
		row("messages sent", fmt.Sprintf("%s (%s/s)", num64(r.Sent), num(int(r.MessagesPerSec))))
		row("deliveries", fmt.Sprintf("%s received of %s expected", num64(r.Received), num64(r.Expected)))
		lost := fmt.Sprintf("%s", num64(r.Lost))
		if r.Expected > 0 {
			lost += fmt.Sprintf(" (%.4f%%)", 100*float64(r.Lost)/float64(r.Expected))
		}
		if r.Extra > 0 {
			lost += fmt.Sprintf(", %s extra", num64(r.Extra))
		}
		row("lost", lost)
		row("deliveries/s", num(int(r.DeliveriesPerSec)))
		l := r.Latency
		row("latency", fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max)))
		if r.OutOfOrder > 0 {
			row("out of order", num64(r.OutOfOrder))
		}
		if r.SendErrors > 0 {
			row("refused sends", fmt.Sprintf("%s: %s", num64(r.SendErrors), r.SendError))
		}
		if r.Receipts > 0 {
			row("receipts", num64(r.Receipts))
		}
		if r.Foreign > 0 {
			row("other frames", num64(r.Foreign))
		}
	}
	for _, k := range sortedKeys(r.Closed) {
		row("closed during run", fmt.Sprintf("%s × code %s", num(r.Closed[k]), k))
	}
	if s := r.Server; s != nil {
		row("server", fmt.Sprintf("pid %d (%d process(es))", s.PID, s.Procs))
		row("server RSS", fmt.Sprintf("%s before, %s connected, %s after", mib(s.RSSBefore), mib(s.RSSConnected), mib(s.RSSAfter)))
		row("server RSS/socket", kib(s.RSSPerConn))
		row("server CPU", fmt.Sprintf("%.2f s connecting, %.2f s %s, %.2f s in all", s.CPUConnect, s.CPULoad, phaseName(r.Idle), s.CPUTotal))
	}
	g := r.Generator
	row("generator CPU", fmt.Sprintf("%.2f s connecting, %.2f s %s, %.2f s in all", g.Connect, g.Load, phaseName(r.Idle), g.Total))
	for _, wn := range r.Warnings {
		row("warning", wn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func phaseName(idle bool) string {
	if idle {
		return "holding"
	}
	return "under load"
}

// num formats an integer with thousands separators.
func num(n int) string { return num64(int64(n)) }

func num64(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func ms(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.3f ms", v)
}

func secs(s float64) string { return fmt.Sprintf("%.2f s", s) }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func kib(b float64) string { return fmt.Sprintf("%.2f KiB", b/1024) }
