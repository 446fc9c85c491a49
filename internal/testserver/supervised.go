package testserver

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/supervisor"
)

// StartSupervised starts a server in supervise mode with the given number of
// worker processes, whatever PORTHOUSE_TEST_MODE says, and stops it when the
// test ends. The test binary is the worker binary, so the package's TestMain
// must call Main.
func StartSupervised(t testing.TB, workers int, opts ...Option) *Server {
	t.Helper()
	if !mainInstalled {
		t.Fatal("testserver: StartSupervised needs a TestMain that calls testserver.Main")
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminPassword = config.Secret(AdminPassword)
	cfg.LoginRate = -1
	cfg.BackpipeRate = 0
	for _, o := range opts {
		o(&cfg)
	}
	cfg.Workers = workers
	logs := &syncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: logs})
	s := &Server{Config: cfg, logs: logs, t: t, Mode: ModeSupervise}
	sup, err := supervisor.New(cfg, log, supervisor.Options{WorkerCmd: WorkerCmd})
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	sup.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sup.WaitReady(ctx); err != nil {
		_ = sup.Shutdown(context.Background())
		t.Fatalf("testserver: workers not ready: %v\n%s", err, logs.String())
	}
	s.Sup, s.Addr = sup, sup.Addr().String()
	boot := sup.Bootstrap()
	s.URL = "http://" + s.Addr
	s.WSURL = "ws://" + s.Addr
	t.Cleanup(func() { s.Stop() })
	s.LobbyTokenID, s.LobbySecret = boot.TokenID, boot.TokenSecret
	s.APIKey = s.loginAndKey("admin", AdminPassword)
	return s
}

// WorkerCmd is a supervisor.Options.WorkerCmd that re-executes the test
// binary as worker id. It works only in a test binary whose TestMain calls
// Main.
func WorkerCmd(id int) *exec.Cmd { return workerCmd(id) }
