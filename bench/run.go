package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// setupSlack bounds everything around the connect, load and drain phases:
// starting a server, making rooms and tokens, finishing, cleaning up.
const setupSlack = 5 * time.Minute

// Run runs one benchmark. A bad configuration is a *UsageError; anything
// else that keeps the run from giving figures is another error. Every phase
// has a deadline; ctx cancels the whole run (what bench made is still
// cleaned up).
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout+cfg.Duration+cfg.Drain+setupSlack)
	defer cancel()
	r := &runner{cfg: &cfg, res: &Result{Started: time.Now().UTC(), Command: cfg.Command}}
	if cfg.PID != 0 {
		if _, err := sampleTree(cfg.PID); err != nil {
			return nil, usagef("-pid %d: %v", cfg.PID, err)
		}
	}
	tgt, err := setupTarget(ctx, &cfg)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	defer func() {
		if cerr := tgt.cleanup(); cerr != nil {
			if res != nil {
				res.Warnings = append(res.Warnings, "clean up: "+cerr.Error())
			} else if err == nil {
				err = cerr
			}
		}
	}()
	r.tgt = tgt
	shares, err := r.plan()
	if err != nil {
		return nil, err
	}
	if err := tgt.makeTokens(ctx, shares); err != nil {
		return nil, interrupted(ctx, err)
	}
	if err := r.probe(ctx); err != nil {
		return nil, interrupted(ctx, err)
	}
	if err := r.startDrivers(shares); err != nil {
		return nil, err
	}
	defer r.killDrivers()
	if err := r.run(ctx); err != nil {
		return nil, interrupted(ctx, err)
	}
	return r.res, nil
}

// interrupted names a cancelled or timed-out run as such.
func interrupted(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return errors.New("interrupted")
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("the run passed its overall deadline: %w", err)
	}
	return err
}

// runner is the state of one run in the parent process.
type runner struct {
	cfg     *Config
	res     *Result
	tgt     *target
	drivers []driver
	rooms   map[string]*roomTotals
	conn    []connectReport
	stops   []stopReport
	finals  []finalReport
	cpu0    float64 // this process's CPU when the drivers started
	echo    bool    // every room echoes
}

// roomTotals are one room's figures summed over the client processes.
type roomTotals struct {
	members int64
	sent    int64
}

// probe opens one socket first, so that a wrong URL or token is one clear
// error instead of thousands of failed dials.
func (r *runner) probe(ctx context.Context) error {
	t := r.tgt
	token := ""
	if len(t.tokens) > 0 {
		token = t.tokens[0]
	}
	d, err := newDialer(t.wsURL, token, 0, r.cfg.DialTimeout)
	if err != nil {
		return err
	}
	rm := t.rooms[0]
	nc, leftover, err := d.dial(ctx, rm.Path, 0)
	if err != nil {
		return fmt.Errorf("cannot open a socket to %s%s: %w", t.wsURL, rm.Path, err)
	}
	defer nc.Close()
	if r.cfg.Mode == ModeEnvelope {
		fr := newFrameReader(nc, 4096, leftover)
		if err := envelopeSetup(nc, fr, [4]byte{1, 2, 3, 4}, []string{rm.Name}, time.Now().Add(r.cfg.DialTimeout)); err != nil {
			return fmt.Errorf("cannot use room %s: %w", rm.Name, err)
		}
	}
	return nil
}

// plan spreads the run over the client processes.
func (r *runner) plan() ([]share, error) {
	cfg, t := r.cfg, r.tgt
	var nonce [2]byte
	_, _ = rand.Read(nonce[:])
	base := share{
		URL: t.wsURL, Mode: cfg.Mode, Via: cfg.Via, HTTPURL: t.httpURL,
		Size: cfg.Size, Idle: cfg.Idle, Nonce: binary.LittleEndian.Uint16(nonce[:]),
		SourceIPs: cfg.SourceIPs, DialConcurrency: cfg.DialConcurrency, DialTimeout: cfg.DialTimeout, ConnectTimeout: cfg.ConnectTimeout,
	}
	if cfg.Via == ViaHTTP {
		base.APIKey = t.apiKey
	}
	echo := true
	for _, rm := range t.rooms {
		echo = echo && rm.Echo
	}
	in := planInput{rooms: t.rooms, conns: cfg.Conns, publishers: cfg.Publishers, procs: cfg.Procs, inflight: cfg.Inflight, echo: echo}
	if cfg.Rate > 0 && cfg.Publishers > 0 {
		in.rate = cfg.Rate / float64(cfg.Publishers)
	}
	shares, err := plan(base, in)
	if err != nil {
		return nil, err
	}
	r.echo = echo
	r.rooms = map[string]*roomTotals{}
	for _, rm := range t.rooms {
		r.rooms[rm.Name] = &roomTotals{}
	}
	return shares, nil
}

// startDrivers starts a generator per share: in this process, or in child
// processes.
func (r *runner) startDrivers(shares []share) error {
	r.cpu0 = selfCPU()
	for k := range shares {
		if r.cfg.Procs == 1 {
			g, err := newGen(shares[k])
			if err != nil {
				return err
			}
			r.drivers = append(r.drivers, localDriver{g})
			continue
		}
		d, err := startChild(r.cfg, shares[k])
		if err != nil {
			r.killDrivers()
			return err
		}
		r.drivers = append(r.drivers, d)
	}
	return nil
}

func (r *runner) killDrivers() {
	var wg sync.WaitGroup
	for _, d := range r.drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.kill()
		}()
	}
	wg.Wait()
	r.drivers = nil
}

// each calls f for every driver at once and returns the first error.
func (r *runner) each(f func(i int, d driver) error) <-chan error {
	out := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		var once sync.Once
		var first error
		for i, d := range r.drivers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f(i, d); err != nil {
					once.Do(func() { first = err })
				}
			}()
		}
		wg.Wait()
		out <- first
	}()
	return out
}

// run is the phases: connect, hold or load, drain, finish.
func (r *runner) run(ctx context.Context) error {
	cfg, res := r.cfg, r.res
	r.describe()
	before := r.sampleServer()

	// Connect.
	r.conn = make([]connectReport, len(r.drivers))
	start := time.Now()
	done := r.each(func(i int, d driver) (err error) {
		r.conn[i], err = d.connect(ctx)
		return err
	})
	if err := r.wait(ctx, done, func() string { return r.connectLine(start) }, nil); err != nil {
		return err
	}
	res.ConnectSeconds = time.Since(start).Seconds()
	r.sumConnect()
	if res.Opened == 0 {
		return fmt.Errorf("no socket opened: %s", firstReason(res.FailReasons))
	}
	connected := r.sampleServer()

	// Hold, or load and drain.
	var after *procSample
	var cpuMark float64
	if cfg.Idle {
		if err := r.hold(ctx); err != nil {
			return err
		}
		after = r.sampleServer()
	} else {
		if err := r.load(ctx); err != nil {
			return err
		}
		cpuMark = r.stopCPU()
		r.drain(ctx)
		after = r.sampleServer()
	}

	// Finish.
	r.finals = make([]finalReport, len(r.drivers))
	done = r.each(func(i int, d driver) (err error) {
		r.finals[i], err = d.finish()
		return err
	})
	if err := <-done; err != nil {
		return err
	}
	r.drivers = nil
	r.sumFinal(cpuMark)
	r.serverFigures(before, connected, after)
	if s := r.tgt.server; s != nil && !s.alive() {
		res.Warnings = append(res.Warnings, "the server exited during the run: "+s.logs.lastLine())
	}
	return nil
}

// describe fills the run's description.
func (r *runner) describe() {
	cfg, res := r.cfg, r.res
	switch {
	case cfg.Spawn == SpawnRaw:
		res.Target = "reference broadcast server (spawned)"
	case cfg.Spawn == SpawnSupervise:
		res.Target = fmt.Sprintf("porthouse supervise -workers %d (spawned)", cfg.Workers)
	case cfg.Spawn == SpawnRun:
		res.Target = "porthouse run (spawned)"
	case cfg.Target == TargetRaw:
		res.Target = "broadcast server"
	default:
		res.Target = "porthouse"
	}
	res.URL = r.tgt.wsURL
	if cfg.Target == TargetRaw {
		res.URL = r.tgt.wsURL + r.tgt.rooms[0].Path
	}
	res.Mode, res.Via, res.Idle = cfg.Mode, cfg.Via, cfg.Idle
	res.Conns, res.Rooms, res.Publishers, res.Procs = cfg.Conns, cfg.Rooms, cfg.Publishers, cfg.Procs
	res.Size, res.Rate, res.Inflight, res.DurationS = cfg.Size, cfg.Rate, cfg.Inflight, cfg.Duration.Seconds()
}

// wait waits for done, printing the progress line every second and calling
// every (if not nil) once a second too.
func (r *runner) wait(ctx context.Context, done <-chan error, line func() string, every func()) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			r.progress(line(), true)
			return err
		case <-t.C:
			if every != nil {
				every()
			}
			r.progress(line(), false)
		case <-ctx.Done():
			r.progress(line(), true)
			return ctx.Err()
		}
	}
}

// progress overwrites the live line on the terminal.
func (r *runner) progress(line string, last bool) {
	w := r.cfg.Progress
	if w == nil {
		return
	}
	const width = 100
	if len(line) < width {
		line += strings.Repeat(" ", width-len(line))
	}
	end := ""
	if last {
		end = "\n"
	}
	fmt.Fprintf(w, "\r%s%s", line, end)
}

// totals sums the drivers' latest ticks.
func (r *runner) totals() tick {
	var t tick
	for _, d := range r.drivers {
		x := d.tick()
		t.Sent += x.Sent
		t.Received += x.Received
		t.Opened += x.Opened
		t.Failed += x.Failed
		t.Closed += x.Closed
	}
	return t
}

func (r *runner) connectLine(start time.Time) string {
	t := r.totals()
	el := time.Since(start).Seconds()
	total := runSockets(r.cfg)
	line := fmt.Sprintf("connect  %s/%s open  %s failed  %s/s", num64(t.Opened), num(total), num64(t.Failed), num(int(float64(t.Opened)/max(el, 1e-9))))
	if t.Closed > 0 {
		line += fmt.Sprintf("  %s closed by the server", num64(t.Closed))
	}
	return line
}

// sumConnect adds the connect reports up.
func (r *runner) sumConnect() {
	res := r.res
	res.FailReasons = map[string]int{}
	dial := newLatencyHistogram()
	for _, c := range r.conn {
		res.Opened += c.Opened
		res.Failed += c.Failed
		for k, v := range c.Reasons {
			res.FailReasons[k] += v
		}
		if h, err := decodeHistogram(c.DialHist); err == nil {
			dial.Merge(h)
		}
		for _, rc := range c.Rooms {
			if t := r.rooms[rc.Name]; t != nil {
				t.members += rc.Receivers
				if r.cfg.Via == ViaWS {
					t.members += rc.PubSockets
				}
			}
		}
		res.Generator.Connect += c.CPU
		res.Warnings = append(res.Warnings, c.Warnings...)
	}
	if r.cfg.Procs == 1 {
		res.Generator.Connect -= r.cpu0
	}
	if len(res.FailReasons) == 0 {
		res.FailReasons = nil
	}
	res.HandshakesPerSec = float64(res.Opened) / max(res.ConnectSeconds, 1e-9)
	res.HandshakeMs = percentiles(dial)
}

func firstReason(m map[string]int) string {
	best, n := "no reason recorded", 0
	for k, v := range m {
		if v > n || v == n && k < best {
			best, n = k, v
		}
	}
	return best
}

// hold keeps the sockets open for the duration.
func (r *runner) hold(ctx context.Context) error {
	start := time.Now()
	done := make(chan error, 1)
	t := time.AfterFunc(r.cfg.Duration, func() { done <- nil })
	defer t.Stop()
	return r.wait(ctx, done, func() string {
		tk := r.totals()
		line := fmt.Sprintf("hold     %.1f/%.1f s  %s open", time.Since(start).Seconds(), r.cfg.Duration.Seconds(), num64(tk.Opened-tk.Closed))
		if tk.Closed > 0 {
			line += fmt.Sprintf("  %s closed by the server", num64(tk.Closed))
		}
		if r.tgt.pid != 0 {
			if s, err := sampleTree(r.tgt.pid); err == nil {
				line += "  server RSS " + mib(s.RSS)
			}
		}
		return line
	}, nil)
}

// load runs the publishers for the duration, recording the timeline, and
// stops them.
func (r *runner) load(ctx context.Context) error {
	res := r.res
	if err := <-r.each(func(_ int, d driver) error { return d.start() }); err != nil {
		return err
	}
	start := time.Now()
	done := make(chan error, 1)
	t := time.AfterFunc(r.cfg.Duration, func() { done <- nil })
	defer t.Stop()
	prev, prevT := tick{}, start
	sample := func() {
		now, tk := time.Now(), r.totals()
		dt := now.Sub(prevT).Seconds()
		if dt <= 0 {
			return
		}
		res.Timeline = append(res.Timeline, Point{
			T:          now.Sub(start).Seconds(),
			Sent:       float64(tk.Sent-prev.Sent) / dt,
			Deliveries: float64(tk.Received-prev.Received) / dt,
		})
		prev, prevT = tk, now
	}
	line := func() string {
		el := time.Since(start).Seconds()
		tk := r.totals()
		last := Point{}
		if n := len(res.Timeline); n > 0 {
			last = res.Timeline[n-1]
		}
		return fmt.Sprintf("load     %.1f/%.1f s  sent %s (%s/s)  delivered %s (%s/s)", el, r.cfg.Duration.Seconds(),
			num64(tk.Sent), num(int(last.Sent)), num64(tk.Received), num(int(last.Deliveries)))
	}
	if err := r.wait(ctx, done, line, sample); err != nil {
		return err
	}
	if time.Since(prevT) > 100*time.Millisecond {
		sample() // the last part-second
	}
	r.stops = make([]stopReport, len(r.drivers))
	stopped := r.each(func(i int, d driver) (err error) {
		r.stops[i], err = d.stop()
		return err
	})
	res.LoadSeconds = time.Since(start).Seconds()
	if err := <-stopped; err != nil {
		return err
	}
	var atStop int64
	for _, s := range r.stops {
		atStop += s.Received
		for _, rs := range s.Rooms {
			if t := r.rooms[rs.Name]; t != nil {
				t.sent += rs.Sent
			}
		}
	}
	res.DeliveriesPerSec = float64(atStop) / res.LoadSeconds
	for _, t := range r.rooms {
		res.Sent += t.sent
		self := int64(0)
		if r.cfg.Via == ViaWS && !r.echo {
			self = 1
		}
		res.Expected += t.sent * max(t.members-self, 0)
	}
	res.MessagesPerSec = float64(res.Sent) / res.LoadSeconds
	return nil
}

// stopCPU is the generator's CPU seconds at the publishers' stop.
func (r *runner) stopCPU() float64 {
	var cpu float64
	for _, s := range r.stops {
		cpu += s.CPU
	}
	return cpu
}

// drain waits up to -drain for the deliveries still on their way.
func (r *runner) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Drain)
	line := func() string {
		return fmt.Sprintf("drain    delivered %s of %s", num64(r.totals().Received), num64(r.res.Expected))
	}
	defer func() { r.progress(line(), true) }()
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		if r.totals().Received >= r.res.Expected {
			// Ticks from child processes lag; one more tick makes sure.
			if r.cfg.Procs > 1 {
				time.Sleep(2 * tickInterval)
			}
			return
		}
		if i%25 == 0 {
			r.progress(line(), false)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sumFinal adds the final reports up.
func (r *runner) sumFinal(cpuAtStop float64) {
	res := r.res
	lat := newLatencyHistogram()
	res.Closed = map[string]int{}
	var cpu float64
	res.Processes = make([]ProcFigures, len(r.finals))
	for i, f := range r.finals {
		pf := &res.Processes[i]
		pf.Opened, pf.Failed, pf.Received, pf.CPU = r.conn[i].Opened, r.conn[i].Failed, f.Received, f.CPU
		if r.cfg.Procs == 1 {
			pf.CPU -= r.cpu0
		}
		if i < len(r.stops) {
			pf.Sent = r.stops[i].Sent
		}
		res.Received += f.Received
		res.Self += f.Self
		res.Foreign += f.Foreign
		res.OutOfOrder += f.OutOfOrder
		res.Receipts += f.Receipts
		res.SendErrors += f.SendErrors
		if res.SendError == "" {
			res.SendError = f.SendError
		}
		if res.CloseError == "" {
			res.CloseError = f.CloseError
		}
		for k, v := range f.Closes {
			res.Closed[k] += v
		}
		if h, err := decodeHistogram(f.Hist); err == nil {
			lat.Merge(h)
		} else {
			res.Warnings = append(res.Warnings, "latency histogram: "+err.Error())
		}
		cpu += f.CPU
		res.Warnings = appendNew(res.Warnings, f.Warnings...)
	}
	if len(res.Closed) == 0 {
		res.Closed = nil
	}
	res.latency = lat
	res.Latency = percentiles(lat)
	if res.Received < res.Expected {
		res.Lost = res.Expected - res.Received
	} else {
		res.Extra = res.Received - res.Expected
	}
	if r.cfg.Procs > 1 {
		cpu += selfCPU() - r.cpu0 // the parent's own share: coordination
	}
	connectCPU := res.Generator.Connect
	if r.cfg.Procs == 1 {
		cpu -= r.cpu0
		cpuAtStop -= r.cpu0
	}
	res.Generator.Total = cpu
	if r.cfg.Idle {
		res.Generator.Load = cpu - connectCPU
	} else {
		res.Generator.Load = cpuAtStop - connectCPU
	}
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		dup := false
		for _, l := range list {
			if l == it {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, it)
		}
	}
	return list
}

// sampleServer samples the server process tree, or returns nil without a
// local process to look at.
func (r *runner) sampleServer() *procSample {
	if r.tgt.pid == 0 {
		return nil
	}
	s, err := sampleTree(r.tgt.pid)
	if err != nil {
		r.res.Warnings = appendNew(r.res.Warnings, fmt.Sprintf("server pid %d: %v", r.tgt.pid, err))
		return nil
	}
	return &s
}

// serverFigures fills the server's CPU and memory.
func (r *runner) serverFigures(before, connected, after *procSample) {
	if before == nil || connected == nil || after == nil {
		return
	}
	s := &ServerFigures{
		PID: r.tgt.pid, Procs: after.Procs,
		RSSBefore: before.RSS, RSSConnected: connected.RSS, RSSAfter: after.RSS,
		CPUConnect: connected.CPU - before.CPU, CPULoad: after.CPU - connected.CPU, CPUTotal: after.CPU - before.CPU,
	}
	held := connected.RSS
	if r.cfg.Idle && len(r.res.Closed) == 0 {
		held = after.RSS // settled after the hold, unless sockets went away during it
	}
	if r.res.Opened > 0 {
		s.RSSPerConn = float64(held-before.RSS) / float64(r.res.Opened)
	}
	r.res.Server = s
}
