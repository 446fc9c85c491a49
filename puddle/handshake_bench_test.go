package puddle_test

import (
	"context"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/porthouse/porthouse/internal/testserver"
)

// BenchmarkHandshake measures authenticated raw-mode handshakes against a
// real server: dial, upgrade, admit, join, then close. The token is cached
// after the first handshake, as for any token in use.
func BenchmarkHandshake(b *testing.B) {
	srv := testserver.Start(b)
	tok := srv.CreateToken(map[string]any{"name": "hs", "max_connections": 100000,
		"subscriptions": []any{testserver.Sub("lobby", true, true)}})
	url := srv.WSURL + "/ws/rooms/lobby?token=" + tok.Secret
	d := ws.Dialer{Timeout: 5 * time.Second}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		c, _, _, err := d.Dial(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "handshakes/s")
}

// BenchmarkHandshakeParallel dials from several goroutines at once and keeps
// the sockets open, as a load generator does.
func BenchmarkHandshakeParallel(b *testing.B) {
	srv := testserver.Start(b)
	tok := srv.CreateToken(map[string]any{"name": "hs", "max_connections": 100000,
		"subscriptions": []any{testserver.Sub("lobby", true, true)}})
	url := srv.WSURL + "/ws/rooms/lobby?token=" + tok.Secret
	b.ReportAllocs()
	b.SetParallelism(32)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		d := ws.Dialer{Timeout: 5 * time.Second}
		var keep []interface{ Close() error }
		for pb.Next() {
			c, _, _, err := d.Dial(context.Background(), url)
			if err != nil {
				b.Error(err)
				return
			}
			keep = append(keep, c)
		}
		for _, c := range keep {
			c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "handshakes/s")
}
