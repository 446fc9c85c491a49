package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startRef starts the reference broadcast server for one test.
func startRef(t *testing.T) string {
	t.Helper()
	srv, err := ListenRef("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return "ws://" + srv.Addr().String()
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%s in %v", cfg.Command, time.Since(start).Round(time.Millisecond))
	var b strings.Builder
	_ = res.WriteTable(&b)
	t.Log("\n" + b.String())
	return res
}

// checkDelivered: every socket open, every delivery made, latencies
// recorded for each.
func checkDelivered(t *testing.T, res *Result, sockets int64) {
	t.Helper()
	defer func() {
		if t.Failed() {
			res.Timeline = nil
			b, _ := json.Marshal(res)
			t.Logf("result: %s", b)
		}
	}()
	if res.Opened != sockets || res.Failed != 0 {
		t.Fatalf("opened %d failed %d, want %d opened", res.Opened, res.Failed, sockets)
	}
	if res.Sent == 0 || res.Expected == 0 || res.Received != res.Expected || res.Lost != 0 {
		t.Fatalf("sent %d expected %d received %d lost %d", res.Sent, res.Expected, res.Received, res.Lost)
	}
	l := res.Latency
	if l.Count != res.Received || l.P50 <= 0 || l.P99 < l.P50 || l.P999 < l.P99 || l.Max < l.P999 {
		t.Fatalf("latency %+v for %d deliveries", l, res.Received)
	}
	if res.OutOfOrder != 0 || res.Foreign != 0 || res.SendErrors != 0 {
		t.Fatalf("out of order %d, foreign %d, send errors %d", res.OutOfOrder, res.Foreign, res.SendErrors)
	}
	if res.DeliveriesPerSec <= 0 || res.HandshakesPerSec <= 0 || len(res.Timeline) == 0 {
		t.Fatalf("deliveries/s %v handshakes/s %v timeline %d", res.DeliveriesPerSec, res.HandshakesPerSec, len(res.Timeline))
	}
}

// TestRunRawTarget loads the reference server as a plain broadcast target:
// no echo, so a receiver in each publisher's process acknowledges it.
func TestRunRawTarget(t *testing.T) {
	cfg := testConfig()
	cfg.Target = TargetRaw
	cfg.URL = startRef(t) + "/bench/{room}"
	cfg.Rooms = 2
	cfg.Publishers = 3
	cfg.PID = os.Getpid()
	cfg.Command = "raw target, 2 rooms"
	res := run(t, cfg)
	checkDelivered(t, res, 23)
	// Each message reaches the other members of its room: receivers
	// (10 each) and the other publishers (room-0 has 2, room-1 has 1).
	if res.Server == nil || res.Server.Procs != 1 || res.Server.RSSAfter <= 0 {
		t.Fatalf("server figures %+v", res.Server)
	}
	if len(res.Processes) != 1 || res.Processes[0].Received != res.Received {
		t.Fatalf("processes %+v", res.Processes)
	}
}

// TestRunManyRooms: with more rooms than publishers each publisher sends
// to its rooms in turn, on a socket per room (raw mode), so every room gets
// traffic; over two processes a publisher's rooms may be split.
func TestRunManyRooms(t *testing.T) {
	for _, procs := range []int{1, 2} {
		cfg := testConfig()
		cfg.Target = TargetRaw
		cfg.URL = startRef(t) + "/many/{room}"
		cfg.Conns = 30
		cfg.Rooms = 10
		cfg.Publishers = 3
		cfg.Procs = procs
		cfg.Command = fmt.Sprintf("raw target, 10 rooms, 3 publishers, -procs %d", procs)
		res := run(t, cfg)
		checkDelivered(t, res, 40)
	}
}

// TestRunProcsMerges runs the load in two child processes (this test
// binary) and checks that the parent adds their figures and merges their
// histograms.
func TestRunProcsMerges(t *testing.T) {
	cfg := testConfig()
	cfg.Target = TargetRaw
	cfg.URL = startRef(t) + "/{room}"
	cfg.Conns = 40
	cfg.Rooms = 2
	cfg.Publishers = 2
	cfg.Procs = 2
	cfg.Command = "raw target, -procs 2"
	res := run(t, cfg)
	checkDelivered(t, res, 42)
	if len(res.Processes) != 2 {
		t.Fatalf("processes %+v", res.Processes)
	}
	var opened, received, sent int64
	for i, p := range res.Processes {
		if p.Opened == 0 || p.Received == 0 || p.CPU <= 0 {
			t.Fatalf("process %d: %+v", i, p)
		}
		opened += p.Opened
		received += p.Received
		sent += p.Sent
	}
	if opened != res.Opened || received != res.Received || sent != res.Sent {
		t.Fatalf("sums %d/%d/%d, totals %d/%d/%d", opened, received, sent, res.Opened, res.Received, res.Sent)
	}
	if res.Generator.Total < res.Processes[0].CPU+res.Processes[1].CPU {
		t.Fatalf("generator CPU %v below the children's", res.Generator)
	}
}

// TestRunPaced: -rate spreads messages evenly.
func TestRunPaced(t *testing.T) {
	cfg := testConfig()
	cfg.Target = TargetRaw
	cfg.URL = startRef(t) + "/paced"
	cfg.Publishers = 2
	cfg.Rate = 40
	cfg.Command = "raw target, -rate 40"
	res := run(t, cfg)
	checkDelivered(t, res, 22)
	if res.Sent < 30 || res.Sent > 50 {
		t.Fatalf("sent %d at 40/s for 1s", res.Sent)
	}
}

// TestRunIdle holds the sockets and measures the (in-process) server.
func TestRunIdle(t *testing.T) {
	cfg := testConfig()
	cfg.Target = TargetRaw
	cfg.URL = startRef(t) + "/idle"
	cfg.Idle = true
	cfg.Conns = 50
	cfg.Duration = 300 * time.Millisecond
	cfg.PID = os.Getpid()
	res := run(t, cfg)
	if res.Opened != 50 || res.Failed != 0 || res.Sent != 0 || res.Server == nil || res.Server.RSSConnected <= 0 {
		t.Fatalf("%+v", res)
	}
}

// TestRunDialFailures: sockets that fail are counted with their reason;
// with none open the run fails.
func TestRunDialFailures(t *testing.T) {
	cfg := testConfig()
	cfg.Target = TargetRaw
	cfg.URL = "ws://127.0.0.1:1/"
	cfg.DialTimeout = time.Second
	start := time.Now()
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

// TestRunSpawned runs the real binary: `porthouse run` spawned by bench,
// raw receivers with envelope-mode and backpipe variants, JSON and HTML
// output.
func TestRunSpawned(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and spawns the porthouse binary")
	}
	bin := porthouseBinary(t)
	for _, tc := range []struct {
		name string
		set  func(*Config)
	}{
		{"raw", func(c *Config) {}},
		{"envelope procs 2", func(c *Config) { c.Mode = ModeEnvelope; c.Procs = 2; c.Rooms = 5 }},
		{"via http", func(c *Config) { c.Via = ViaHTTP; c.Inflight = 8 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Spawn = SpawnRun
			cfg.Executable = bin
			cfg.ChildArgs = []string{"bench", "-child"}
			cfg.ChildEnv = nil
			cfg.Conns = 50
			cfg.Publishers = 2
			cfg.Command = "spawn run " + tc.name
			tc.set(&cfg)
			res := run(t, cfg)
			sockets := int64(52)
			if cfg.Via == ViaHTTP {
				sockets = 50
			}
			checkDelivered(t, res, sockets)
			if res.Server == nil || res.Server.Procs != 1 || res.Server.RSSPerConn <= 0 || res.Server.CPUTotal <= 0 {
				t.Fatalf("server %+v", res.Server)
			}
			if cfg.Mode == ModeEnvelope && res.Receipts != res.Sent {
				t.Fatalf("receipts %d for %d sent", res.Receipts, res.Sent)
			}
			var line bytes.Buffer
			if err := res.WriteJSON(&line); err != nil {
				t.Fatal(err)
			}
			var back map[string]any
			if err := json.Unmarshal(line.Bytes(), &back); err != nil || bytes.Count(line.Bytes(), []byte("\n")) != 1 {
				t.Fatalf("JSON line: %v\n%s", err, line.Bytes())
			}
			lat, _ := back["latency_ms"].(map[string]any)
			if lat["p50"] == nil || lat["p99"] == nil || lat["p99_9"] == nil || lat["max"] == nil || back["lost"] != 0.0 {
				t.Fatalf("JSON: %s", line.Bytes())
			}
		})
	}
}

// TestRunSpawnSupervise: the server's figures add up the supervisor and its
// workers.
func TestRunSpawnSupervise(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and spawns the porthouse binary")
	}
	cfg := testConfig()
	cfg.Spawn = SpawnSupervise
	cfg.Workers = 2
	cfg.Executable = porthouseBinary(t)
	cfg.Conns = 40
	cfg.Publishers = 2
	cfg.Command = "spawn supervise -workers 2"
	res := run(t, cfg)
	checkDelivered(t, res, 42)
	if res.Server == nil || res.Server.Procs < 3 {
		t.Fatalf("server %+v: want the supervisor and 2 workers", res.Server)
	}
}

// TestSpawnFailure: a server that cannot start is one error, quickly.
func TestSpawnFailure(t *testing.T) {
	cfg := testConfig()
	cfg.Spawn = SpawnRun
	cfg.Executable = "/bin/false"
	start := time.Now()
	_, err := Run(context.Background(), cfg)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	if _, err := exec.LookPath("true"); err == nil {
		cfg.Executable, _ = exec.LookPath("true")
		if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "did not start") {
			t.Fatalf("with true: %v", err)
		}
	}
}
