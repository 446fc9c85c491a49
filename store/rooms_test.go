package store

import (
	"context"
	"strings"
	"testing"
)

func TestCreateRoom(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	b := mustAccount(t, s, "bob")
	mustRoom(t, s, a.ID, "taken")

	tests := []struct {
		name  string
		owner int64
		room  string
		p     RoomPatch
		want  error
	}{
		{"defaults", a.ID, "plain", RoomPatch{}, nil},
		{"all rules", a.ID, "ruled", RoomPatch{
			Public: ptr(true), PublicSend: ptr(true), Password: ptr("sesame"), Format: ptr("json"),
			MaxMembers: ptr(5), MaxMessageBytes: ptr(1024), Echo: ptr(true), Presence: ptr(true),
		}, nil},
		{"same name other owner", b.ID, "taken", RoomPatch{}, nil},
		{"conflict", a.ID, "taken", RoomPatch{}, ErrConflict},
		{"bad name", a.ID, "Bad", RoomPatch{}, ErrInvalid},
		{"qualified name", a.ID, "bob/x", RoomPatch{}, ErrInvalid},
		{"long name", a.ID, strings.Repeat("r", 65), RoomPatch{}, ErrInvalid},
		{"bad format", a.ID, "f", RoomPatch{Format: ptr("xml")}, ErrInvalid},
		{"negative members", a.ID, "m", RoomPatch{MaxMembers: ptr(-1)}, ErrInvalid},
		{"negative bytes", a.ID, "b", RoomPatch{MaxMessageBytes: ptr(-1)}, ErrInvalid},
		{"unknown owner", 999, "x", RoomPatch{}, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.CreateRoom(ctx, tc.owner, tc.room, tc.p)
			wantErr(t, err, tc.want)
			if err != nil {
				return
			}
			got, err := s.Room(ctx, r.Owner, tc.room)
			if err != nil {
				t.Fatalf("Room: %v", err)
			}
			if !roomsEqual(got, r) {
				t.Fatalf("created %+v, read back %+v", r, got)
			}
			if got.OwnerID != tc.owner || got.Name != tc.room {
				t.Fatalf("room = %+v", got)
			}
		})
	}

	r, _ := s.Room(ctx, "alice", "plain")
	if r.Format != "any" || r.Public || r.HasPassword || r.MaxMembers != 0 || r.Echo || r.Presence {
		t.Errorf("defaults = %+v", r)
	}
	r, _ = s.Room(ctx, "alice", "ruled")
	if r.Format != "json" || !r.Public || !r.PublicSend || !r.HasPassword || r.MaxMembers != 5 ||
		r.MaxMessageBytes != 1024 || !r.Echo || !r.Presence || r.Owner != "alice" {
		t.Errorf("rules = %+v", r)
	}
}

func roomsEqual(a, b Room) bool {
	return a.ID == b.ID && a.OwnerID == b.OwnerID && a.Owner == b.Owner && a.Name == b.Name &&
		a.Public == b.Public && a.PublicSend == b.PublicSend && a.HasPassword == b.HasPassword &&
		string(a.PasswordHash) == string(b.PasswordHash) && a.Format == b.Format &&
		a.MaxMembers == b.MaxMembers && a.MaxMessageBytes == b.MaxMessageBytes &&
		a.Echo == b.Echo && a.Presence == b.Presence && a.CreatedAt.Equal(b.CreatedAt)
}

func TestRoomPassword(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	r := mustRoom(t, s, a.ID, "vault")
	if r.HasPassword || !CheckRoomPassword(r, "") || !CheckRoomPassword(r, "anything") {
		t.Fatalf("room without password: %+v", r)
	}

	r, err := s.UpdateRoom(ctx, a.ID, "vault", RoomPatch{Password: ptr("sesame")})
	if err != nil || !r.HasPassword {
		t.Fatalf("set password: %+v, %v", r, err)
	}
	if strings.Contains(string(r.PasswordHash), "sesame") {
		t.Fatal("room password stored in clear")
	}
	r, _ = s.Room(ctx, "alice", "vault")
	for pw, want := range map[string]bool{"sesame": true, "": false, "Sesame": false} {
		if got := CheckRoomPassword(r, pw); got != want {
			t.Errorf("CheckRoomPassword(%q) = %v, want %v", pw, got, want)
		}
	}

	// nil leaves it, "" clears it.
	r, err = s.UpdateRoom(ctx, a.ID, "vault", RoomPatch{Echo: ptr(true)})
	if err != nil || !r.HasPassword || !CheckRoomPassword(r, "sesame") {
		t.Fatalf("unrelated patch touched the password: %+v, %v", r, err)
	}
	r, err = s.UpdateRoom(ctx, a.ID, "vault", RoomPatch{Password: ptr("")})
	if err != nil || r.HasPassword || !CheckRoomPassword(r, "") {
		t.Fatalf("clear password: %+v, %v", r, err)
	}
	if r, _ = s.Room(ctx, "alice", "vault"); r.HasPassword || len(r.PasswordHash) != 0 {
		t.Fatalf("password not cleared in the database: %+v", r)
	}
}

func TestRoomUpdateListDelete(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	b := mustAccount(t, s, "bob")
	for _, n := range []string{"zeta", "alpha", "mid"} {
		mustRoom(t, s, a.ID, n)
	}
	mustRoom(t, s, b.ID, "bobs")

	rs, err := s.ListRooms(ctx, a.ID)
	if err != nil || len(rs) != 3 || rs[0].Name != "alpha" || rs[1].Name != "mid" || rs[2].Name != "zeta" {
		t.Fatalf("ListRooms = %+v, %v", rs, err)
	}
	if n, err := s.CountRooms(ctx, a.ID); err != nil || n != 3 {
		t.Fatalf("CountRooms = %d, %v", n, err)
	}
	if rs, err := s.ListRooms(ctx, 999); err != nil || rs == nil || len(rs) != 0 {
		t.Fatalf("ListRooms(nobody) = %#v, %v", rs, err)
	}

	r, err := s.UpdateRoom(ctx, a.ID, "mid", RoomPatch{Format: ptr("binary"), MaxMembers: ptr(3), Public: ptr(true)})
	if err != nil || r.Format != "binary" || r.MaxMembers != 3 || !r.Public || r.Owner != "alice" {
		t.Fatalf("UpdateRoom = %+v, %v", r, err)
	}
	if got, _ := s.Room(ctx, "alice", "mid"); !roomsEqual(got, r) {
		t.Fatalf("update not stored: %+v", got)
	}
	r, err = s.UpdateRoom(ctx, a.ID, "mid", RoomPatch{})
	if err != nil || r.Format != "binary" {
		t.Fatalf("empty patch = %+v, %v", r, err)
	}
	_, err = s.UpdateRoom(ctx, a.ID, "mid", RoomPatch{Format: ptr("nope")})
	wantErr(t, err, ErrInvalid)
	_, err = s.UpdateRoom(ctx, a.ID, "mid", RoomPatch{MaxMessageBytes: ptr(-5)})
	wantErr(t, err, ErrInvalid)

	// Another owner sees nothing.
	_, err = s.UpdateRoom(ctx, b.ID, "mid", RoomPatch{Echo: ptr(true)})
	wantErr(t, err, ErrNotFound)
	wantErr(t, s.DeleteRoom(ctx, b.ID, "mid"), ErrNotFound)
	_, err = s.Room(ctx, "bob", "mid")
	wantErr(t, err, ErrNotFound)
	_, err = s.Room(ctx, "nobody", "mid")
	wantErr(t, err, ErrNotFound)

	wantErr(t, s.DeleteRoom(ctx, a.ID, "mid"), nil)
	wantErr(t, s.DeleteRoom(ctx, a.ID, "mid"), ErrNotFound)
	_, err = s.Room(ctx, "alice", "mid")
	wantErr(t, err, ErrNotFound)
	if _, err := s.Room(ctx, "bob", "bobs"); err != nil {
		t.Fatalf("bob's room: %v", err)
	}
	// The name is free again.
	mustRoom(t, s, a.ID, "mid")
}
