package client

import (
	"context"
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	p := newPacer(1<<20, 1000) // 1 MiB/s after a 256 KiB burst
	t0 := time.Now()
	for range 4 {
		if err := p.wait(context.Background(), 64<<10); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d > 50*time.Millisecond {
		t.Fatalf("the burst waited %v", d)
	}
	for range 2 {
		if err := p.wait(context.Background(), 64<<10); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d < 125*time.Millisecond {
		t.Fatalf("128 KiB past the burst at 1 MiB/s took only %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.wait(ctx, 1<<20); err == nil {
		t.Fatal("wait ignored a cancelled context")
	}
	if err := newPacer(0, 1).wait(context.Background(), 1<<30); err != nil {
		t.Fatal(err)
	}
}

func TestReconnectDelay(t *testing.T) {
	p := ReconnectPolicy{MinDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	for n, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 20 {
			if d := p.delay(n); d < want/2 || d > want {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
