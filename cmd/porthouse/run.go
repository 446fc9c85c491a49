package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/server"
	"github.com/porthouse/porthouse/store"
)

func init() {
	commands["run"] = command{summary: "run the server in one process (embedded SQLite)", run: runServer}
}

// runServer is `porthouse run`.
func runServer(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, os.Getenv)
	if err != nil {
		return configFailed(err, stdout, stderr)
	}
	log := newLogger(cfg, stderr)
	tuneGC()
	srv, err := server.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "porthouse run: %v\n", err)
		return 1
	}
	if err := srv.Listen(); err != nil {
		_ = srv.Shutdown(context.Background())
		fmt.Fprintf(stderr, "porthouse run: %v\n", err)
		return 1
	}
	srv.Start()
	printWelcome(stdout, srv.Addr().String(), srv.Bootstrap())
	log.Info("listening", "addr", srv.Addr().String(), "data", cfg.DataDir)

	status := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-srv.Err():
		if err != nil {
			log.Error("serve failed", "error", err)
			status = 1
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.Duration())
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "error", err)
		status = 1
	}
	return status
}

// configFailed prints a config error: usage for -h, else every problem.
func configFailed(err error, stdout, stderr io.Writer) int {
	var help *config.HelpError
	if errors.As(err, &help) || errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, err)
		return 0
	}
	fmt.Fprintf(stderr, "porthouse: bad configuration:\n%v\n", err)
	return 2
}

// newLogger builds the process logger from the config.
func newLogger(cfg config.Config, w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "porthouse",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		Output:     w,
		JSONFormat: cfg.LogJSON,
	})
}

// printWelcome tells a new user how to connect.
func printWelcome(w io.Writer, addr string, boot store.Bootstrap) {
	fmt.Fprintf(w, "Porthouse is listening on %s\n", addr)
	fmt.Fprintf(w, "  UI and API:  http://%s/  (JSON API under /api/v1)\n", addr)
	if !boot.Created {
		fmt.Fprintf(w, "  WebSocket:   ws://%s/ws  (connect with a token: ?token=ph_... or Authorization: Bearer)\n", addr)
		return
	}
	fmt.Fprintln(w, "First start: created account admin, room lobby and a token for it.")
	if boot.AdminPassword != "" {
		fmt.Fprintf(w, "  admin password: %s  (shown once; set PORTHOUSE_ADMIN_PASSWORD to choose it)\n", boot.AdminPassword)
	}
	fmt.Fprintf(w, "  token %s secret: %s  (shown once)\n", boot.TokenID, boot.TokenSecret)
	fmt.Fprintf(w, "  chat in lobby (envelope mode): ws://%s/ws?token=%s\n", addr, boot.TokenSecret)
	fmt.Fprintf(w, "  raw mode, bare payloads:       ws://%s/ws/rooms/lobby?token=%s\n", addr, boot.TokenSecret)
	fmt.Fprintln(w, `  in envelope mode send: {"type":"send","room":"lobby","data":"hello"}`)
}
