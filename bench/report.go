package bench

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"os"
	"strings"
)

// WriteReport writes a self-contained HTML page of the result to path: the
// table, the latency distribution and deliveries per second over time as
// inline SVG. It needs no external assets.
func WriteReport(path string, r *Result) error {
	var b bytes.Buffer
	if err := RenderReport(&b, r); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// RenderReport writes the HTML page of the result to w.
func RenderReport(w io.Writer, r *Result) error {
	var table strings.Builder
	_ = r.WriteTable(&table)
	page := reportPage{
		Title:    "porthouse bench: " + r.Target,
		Command:  r.Command,
		Started:  r.Started.Format("2006-01-02 15:04:05 UTC"),
		Table:    table.String(),
		Idle:     r.Idle,
		Latency:  template.HTML(latencyChart(r)),
		Buckets:  template.HTML(bucketChart(r)),
		Timeline: template.HTML(timelineChart(r)),
	}
	return reportTemplate.Execute(w, page)
}

type reportPage struct {
	Title, Command, Started, Table string
	Idle                           bool
	Latency, Buckets, Timeline     template.HTML
}

var reportTemplate = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #222; padding: 0 1em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
pre { background: #f5f5f2; padding: 1em; overflow-x: auto; font-size: 13px; }
code { background: #f5f5f2; padding: 0 .3em; }
svg { display: block; margin: .5em 0; }
svg text { font: 12px system-ui, sans-serif; fill: #333; }
.note { color: #666; font-size: 13px; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="note">{{.Started}}{{if .Command}} · <code>{{.Command}}</code>{{end}}</p>
<pre>{{.Table}}</pre>
{{if not .Idle}}
<h2>Latency by percentile</h2>
<p class="note">Time from the send timestamp in each payload to its arrival at a receiver, over every delivery (HDR histogram, 3 significant digits). The horizontal axis stretches the tail: each step right is ten times rarer.</p>
{{.Latency}}
<h2>Latency histogram</h2>
<p class="note">Deliveries per latency range (ranges grow by a constant factor).</p>
{{.Buckets}}
<h2>Deliveries and messages per second</h2>
<p class="note">Sampled every second while the publishers ran.</p>
{{.Timeline}}
{{end}}
</body>
</html>
`))

// chart geometry.
const (
	chartW, chartH             = 900, 320
	marginL, marginR           = 70, 20
	marginT, marginB           = 20, 45
	plotW, plotH               = chartW - marginL - marginR, chartH - marginT - marginB
	colorDeliveries, colorSent = "#1f6fb2", "#d1762a"
)

type series struct {
	name, color string
	x, y        []float64
}

type axisTick struct {
	v     float64
	label string
}

// lineChart draws series over [x0,x1] × [0,y1] with the given ticks.
func lineChart(ss []series, x0, x1, y1 float64, xt, yt []axisTick, xLabel, yLabel string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, chartW, chartH, chartW, chartH)
	px := func(x float64) float64 { return marginL + (x-x0)/(x1-x0)*plotW }
	py := func(y float64) float64 { return marginT + plotH - y/y1*plotH }
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#bbb"/>`, marginL, marginT, plotW, plotH)
	for _, t := range yt {
		y := py(t.v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`, marginL, marginL+plotW, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, marginL-6, y+4, html.EscapeString(t.label))
	}
	for i, t := range xt {
		x := px(t.v)
		anchor := "middle"
		if i == len(xt)-1 && x > marginL+plotW-30 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>`, x, x, marginT, marginT+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s">%s</text>`, x, marginT+plotH+16, anchor, html.EscapeString(t.label))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, marginL+plotW/2, chartH-6, html.EscapeString(xLabel))
	fmt.Fprintf(&b, `<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>`, marginT+plotH/2, marginT+plotH/2, html.EscapeString(yLabel))
	for i, s := range ss {
		var pts []string
		for j := range s.x {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.x[j]), py(s.y[j])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.color, strings.Join(pts, " "))
		if len(ss) > 1 {
			lx := marginL + 12 + i*180
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="4" fill="%s"/><text x="%d" y="%d">%s</text>`, lx, marginT+10, s.color, lx+20, marginT+15, html.EscapeString(s.name))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceTicks returns about n round ticks from 0 to at least top.
func niceTicks(top float64, n int, label func(float64) string) (float64, []axisTick) {
	if top <= 0 || math.IsNaN(top) || math.IsInf(top, 0) {
		top = 1
	}
	raw := top / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	end := math.Ceil(top/step) * step
	var ticks []axisTick
	for v := 0.0; v <= end*1.0000001 && len(ticks) < 50; v += step {
		ticks = append(ticks, axisTick{v: v, label: label(v)})
	}
	return end, ticks
}

func msLabel(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.3g s", v/1000)
	}
	return fmt.Sprintf("%.3g ms", v)
}

func rateLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return fmt.Sprintf("%.3g", v)
}

// latencyChart plots latency against percentile, the x axis being
// log10(1/(1-p)): 0 at 0%, 1 at 90%, 2 at 99%, and so on.
func latencyChart(r *Result) string {
	h := r.latency
	if h == nil || h.TotalCount() == 0 {
		return `<p class="note">No deliveries, so no latency.</p>`
	}
	maxNines := math.Min(6, math.Log10(float64(h.TotalCount())))
	maxNines = math.Max(maxNines, 1)
	var s series
	s.color = colorDeliveries
	for i := 0; ; i++ {
		x := float64(i) / 20
		if x > maxNines {
			break
		}
		q := 100 * (1 - math.Pow(10, -x))
		s.x = append(s.x, x)
		s.y = append(s.y, float64(h.ValueAtQuantile(q))/1000)
	}
	s.x = append(s.x, maxNines)
	s.y = append(s.y, float64(h.Max())/1000)
	top, yt := niceTicks(float64(h.Max())/1000, 6, msLabel)
	var xt []axisTick
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"}
	for i := 0; float64(i) <= maxNines && i < len(labels); i++ {
		xt = append(xt, axisTick{v: float64(i), label: labels[i]})
	}
	return lineChart([]series{s}, 0, maxNines, top, xt, yt, "percentile", "latency")
}

// bucketChart draws the latency histogram as bars over log-spaced ranges.
func bucketChart(r *Result) string {
	h := r.latency
	if h == nil || h.TotalCount() == 0 {
		return ""
	}
	lo := math.Max(float64(h.Min()), 1)
	hi := math.Max(float64(h.Max()), lo*2)
	const n = 40
	f := math.Pow(hi/lo, 1.0/n)
	counts := make([]int64, n)
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		v := math.Max(float64(bar.From), lo)
		i := int(math.Log(v/lo) / math.Log(f))
		counts[min(max(i, 0), n-1)] += bar.Count
	}
	var top int64
	for _, c := range counts {
		top = max(top, c)
	}
	ymax, yt := niceTicks(float64(top), 5, func(v float64) string { return rateLabel(v) })
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#bbb"/>`, marginL, marginT, plotW, plotH)
	for _, t := range yt {
		y := marginT + plotH - t.v/ymax*plotH
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			marginL, marginL+plotW, y, y, marginL-6, y+4, html.EscapeString(t.label))
	}
	bw := float64(plotW) / n
	for i, c := range counts {
		if c == 0 {
			continue
		}
		bh := float64(c) / ymax * plotH
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s–%s: %d</title></rect>`,
			marginL+float64(i)*bw+1, marginT+plotH-bh, bw-2, bh, colorDeliveries,
			msLabel(lo*math.Pow(f, float64(i))/1000), msLabel(lo*math.Pow(f, float64(i+1))/1000), c)
	}
	for i := 0; i <= n; i += 8 {
		x := marginL + float64(i)*bw
		anchor := "middle"
		if i == n {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s">%s</text>`, x, marginT+plotH+16, anchor, html.EscapeString(msLabel(lo*math.Pow(f, float64(i))/1000)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">latency (log scale)</text>`, marginL+plotW/2, chartH-6)
	fmt.Fprintf(&b, `<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">deliveries</text>`, marginT+plotH/2, marginT+plotH/2)
	b.WriteString(`</svg>`)
	return b.String()
}

// timelineChart plots deliveries/s and messages sent/s over the load, each
// on its own scale (a message makes as many deliveries as its room has
// receivers). A value is drawn at the middle of the second it covers.
func timelineChart(r *Result) string {
	if len(r.Timeline) == 0 {
		return `<p class="note">No timeline.</p>`
	}
	d := series{name: "deliveries/s", color: colorDeliveries}
	s := series{name: "messages sent/s", color: colorSent}
	var topD, topS, end float64
	prev := 0.0
	for _, p := range r.Timeline {
		mid := (prev + p.T) / 2
		prev = p.T
		d.x, d.y = append(d.x, mid), append(d.y, p.Deliveries)
		s.x, s.y = append(s.x, mid), append(s.y, p.Sent)
		topD, topS = math.Max(topD, p.Deliveries), math.Max(topS, p.Sent)
		end = math.Max(end, p.T)
	}
	secLabel := func(v float64) string { return fmt.Sprintf("%gs", v) }
	_, xt := niceTicks(end, 10, secLabel)
	for len(xt) > 0 && xt[len(xt)-1].v > end*1.0001 {
		xt = xt[:len(xt)-1]
	}
	dmax, dt := niceTicks(topD, 6, rateLabel)
	smax, st := niceTicks(topS, 6, rateLabel)
	return lineChart([]series{d}, 0, end, dmax, xt, dt, "seconds", "deliveries per second") +
		lineChart([]series{s}, 0, end, smax, xt, st, "seconds", "messages sent per second")
}
