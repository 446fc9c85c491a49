package bench

import (
	"context"
	"testing"
	"time"
)

// BenchmarkDial measures the client side of a handshake (connect, upgrade,
// reader set-up) against the in-process reference server, which shares
// the profile.
func BenchmarkDial(b *testing.B) {
	srv, err := ListenRef("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	d, err := newDialer("ws://"+srv.Addr().String(), "", 16, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, _, err := d.dial(context.Background(), "/x", i)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
