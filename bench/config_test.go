package bench

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	spawn := func(c *Config) { c.Spawn = SpawnRun }
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string // "" for valid
	}{
		{"spawn run", spawn, ""},
		{"token", func(c *Config) { c.Token = "ph_x" }, ""},
		{"api key", func(c *Config) { c.APIKey = "pk_x" }, ""},
		{"raw target", func(c *Config) { c.Target = TargetRaw; c.URL = "ws://127.0.0.1:9/x" }, ""},
		{"raw rooms", func(c *Config) { c.Target = TargetRaw; c.URL = "ws://localhost:9/{room}"; c.Rooms = 3 }, ""},
		{"ipv6 loopback", func(c *Config) { c.Token = "t"; c.URL = "ws://[::1]:8700" }, ""},
		{"remote allowed", func(c *Config) { c.Token = "t"; c.URL = "ws://10.0.0.1:8700"; c.AllowRemote = true }, ""},
		{"idle", func(c *Config) { spawn(c); c.Idle = true; c.Publishers = 0 }, ""},
		{"no credentials", func(c *Config) {}, "needs -token or -api-key"},
		{"both credentials", func(c *Config) { c.Token = "t"; c.APIKey = "pk_x" }, "not both"},
		{"bad api key", func(c *Config) { c.APIKey = "x" }, "pk_"},
		{"remote", func(c *Config) { c.Token = "t"; c.URL = "ws://example.com:8700" }, "not a loopback"},
		{"http url", func(c *Config) { c.Token = "t"; c.URL = "http://127.0.0.1:8700" }, "ws://"},
		{"conns 0", func(c *Config) { spawn(c); c.Conns = 0 }, "-conns"},
		{"size 4", func(c *Config) { spawn(c); c.Size = 4 }, "-size"},
		{"rooms > conns", func(c *Config) { spawn(c); c.Conns = 2; c.Rooms = 3 }, "-rooms"},
		{"no publishers", func(c *Config) { spawn(c); c.Publishers = 0 }, "-publishers"},
		{"inflight 0", func(c *Config) { spawn(c); c.Inflight = 0 }, "-inflight"},
		{"negative rate", func(c *Config) { spawn(c); c.Rate = -1 }, "-rate"},
		{"rate too low", func(c *Config) { spawn(c); c.Rate = 0.01 }, "too low"},
		{"duration 0", func(c *Config) { spawn(c); c.Duration = 0 }, "-duration"},
		{"duration huge", func(c *Config) { spawn(c); c.Duration = 48 * time.Hour }, "-duration"},
		{"procs 0", func(c *Config) { spawn(c); c.Procs = 0 }, "-procs"},
		{"procs too small", func(c *Config) { spawn(c); c.Conns = 30000 }, "-procs too small"},
		{"procs enough", func(c *Config) { spawn(c); c.Conns = 30000; c.Procs = 2 }, ""},
		{"mode", func(c *Config) { spawn(c); c.Mode = "x" }, "-mode"},
		{"via", func(c *Config) { spawn(c); c.Via = "x" }, "-via"},
		{"via http token", func(c *Config) { c.Token = "t"; c.Via = ViaHTTP }, "-via http"},
		{"spawn kind", func(c *Config) { c.Spawn = "x" }, "-spawn"},
		{"spawn with token", func(c *Config) { spawn(c); c.Token = "t" }, "own credentials"},
		{"workers without supervise", func(c *Config) { spawn(c); c.Workers = 2 }, "-workers"},
		{"workers too many", func(c *Config) { c.Spawn = SpawnSupervise; c.Workers = 65 }, "-workers"},
		{"raw envelope", func(c *Config) { c.Target = TargetRaw; c.URL = "ws://127.0.0.1:9/"; c.Mode = ModeEnvelope }, "-mode envelope"},
		{"raw rooms no placeholder", func(c *Config) { c.Target = TargetRaw; c.URL = "ws://127.0.0.1:9/"; c.Rooms = 2 }, "{room}"},
		{"room without token", func(c *Config) { spawn(c); c.Room = "x" }, "-room"},
		{"server args without spawn", func(c *Config) { c.Token = "t"; c.ServerArgs = []string{"-x"} }, "-server-arg"},
		{"server log without spawn", func(c *Config) { c.Token = "t"; c.ServerLog = "x" }, "-server-log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Executable = "/bin/true"
			tc.set(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a usage error with %q", err, tc.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true, "[::1]": true,
		"10.0.0.1": false, "example.com": false, "": false, "0.0.0.0": false,
	} {
		if IsLoopback(host) != want {
			t.Errorf("IsLoopback(%q) = %v", host, !want)
		}
	}
}
