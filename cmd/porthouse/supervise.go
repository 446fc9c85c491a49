package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/supervisor"
)

func init() {
	commands["supervise"] = command{summary: "run a supervisor and -workers N worker processes", run: runSupervise}
}

// runSupervise is `porthouse supervise -workers N`.
func runSupervise(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, os.Getenv)
	if err == nil {
		err = cfg.ValidateSupervise()
	}
	if err != nil {
		return configFailed(err, stdout, stderr)
	}
	log := newLogger(cfg, stderr)
	tuneGC()
	sup, err := supervisor.New(cfg, log, supervisor.Options{ReleaseFreeHeap: true})
	if err != nil {
		fmt.Fprintf(stderr, "porthouse supervise: %v\n", err)
		return 1
	}
	sup.Start()
	printWelcome(stdout, sup.Addr().String(), sup.Bootstrap())
	log.Info("supervising", "addr", sup.Addr().String(), "workers", cfg.Workers, "data", cfg.DataDir)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			reload(sup, cfg.ConfigFile, args, log)
			continue
		case <-ctx.Done():
		}
		break
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.Duration())
	defer cancel()
	if err := sup.Shutdown(sctx); err != nil {
		log.Error("shutdown", "error", err)
		return 1
	}
	return 0
}

// reload reads the configuration again (SIGHUP) and applies what can change
// while running.
func reload(sup *supervisor.Supervisor, file string, args []string, log interface {
	Info(string, ...any)
	Error(string, ...any)
}) {
	next, err := config.Load(args, os.Getenv)
	if err != nil {
		log.Error("reload refused: bad configuration", "file", file, "error", err)
		return
	}
	changed, restart := sup.Reload(next)
	log.Info("configuration reloaded", "changed", strings.Join(changed, ","), "need_restart", strings.Join(restart, ","))
}
