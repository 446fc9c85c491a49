package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentUse runs 20 goroutines doing mixed writes and reads on one
// store. Any error (in particular "database is locked") fails the test.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	const workers, rounds = 20, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			if err := worker(ctx, s, w, rounds); err != nil {
				t.Errorf("worker %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	if n, err := s.CountAccounts(ctx); err != nil || n != workers {
		t.Fatalf("accounts = %d, %v", n, err)
	}
}

func worker(ctx context.Context, s *Store, w, rounds int) error {
	name := fmt.Sprintf("user%d", w)
	a, err := s.CreateAccount(ctx, name, "password-"+name, false)
	if err != nil {
		return err
	}
	for i := range rounds {
		room := fmt.Sprintf("room%d", i)
		if _, err := s.CreateRoom(ctx, a.ID, room, RoomPatch{Echo: ptr(i%2 == 0)}); err != nil {
			return err
		}
		subs := []Subscription{{Room: room, Send: true, Receive: true}}
		tk, secret, err := s.CreateToken(ctx, a.ID, TokenPatch{Subscriptions: &subs})
		if err != nil {
			return err
		}
		for range 3 {
			got, err := s.TokenBySecret(ctx, secret)
			if err != nil {
				return fmt.Errorf("TokenBySecret: %w", err)
			}
			if got.ID != tk.ID || len(got.Subscriptions) != 1 {
				return fmt.Errorf("TokenBySecret returned %+v", got)
			}
		}
		if _, err := s.PutSubscription(ctx, a.ID, tk.ID, Subscription{Room: room, Receive: true}); err != nil {
			return err
		}
		if _, err := s.ListTokens(ctx, a.ID); err != nil {
			return err
		}
		if _, err := s.ListRooms(ctx, a.ID); err != nil {
			return err
		}
		if _, _, err := s.RegenerateToken(ctx, a.ID, tk.ID); err != nil {
			return err
		}
		sess, err := s.CreateSession(ctx, a.ID, time.Hour)
		if err != nil {
			return err
		}
		if _, err := s.SessionAccount(ctx, sess); err != nil {
			return err
		}
		if _, err := s.UpdateRoom(ctx, a.ID, room, RoomPatch{MaxMembers: ptr(i)}); err != nil {
			return err
		}
		if i%3 == 0 {
			if err := s.DeleteRoom(ctx, a.ID, room); err != nil {
				return err
			}
			if err := s.DeleteToken(ctx, a.ID, tk.ID); err != nil {
				return err
			}
		}
		if err := s.SetSetting(ctx, "k", name); err != nil {
			return err
		}
		if _, _, err := s.Setting(ctx, "k"); err != nil {
			return err
		}
	}
	return nil
}

// TestConcurrentStoresOnOneFile opens two stores on the same file (as a
// second process would) and writes through both; busy_timeout and BEGIN
// IMMEDIATE must keep "database is locked" away.
func TestConcurrentStoresOnOneFile(t *testing.T) {
	ctx := context.Background()
	s1 := openTest(t)
	s2, err := Open(s1.file)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var wg sync.WaitGroup
	for i := range 10 {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			for j := range 20 {
				if err := s.SetSetting(ctx, fmt.Sprintf("k%d", i), fmt.Sprint(j)); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := s.Setting(ctx, "k0"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkTokenBySecret(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir() + "/porthouse.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, err := s.CreateAccount(ctx, "alice", "password", false)
	if err != nil {
		b.Fatal(err)
	}
	subs := []Subscription{}
	for i := range 5 {
		room := fmt.Sprintf("room%d", i)
		if _, err := s.CreateRoom(ctx, a.ID, room, RoomPatch{}); err != nil {
			b.Fatal(err)
		}
		subs = append(subs, Subscription{Room: room, Send: true, Receive: true})
	}
	_, secret, err := s.CreateToken(ctx, a.ID, TokenPatch{Subscriptions: &subs})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.TokenBySecret(ctx, secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}
