package store

import (
	"context"
	"regexp"
	"testing"
)

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	b := mustAccount(t, s, "bob")

	if ks, err := s.ListAPIKeys(ctx, a.ID); err != nil || ks == nil || len(ks) != 0 {
		t.Fatalf("ListAPIKeys empty = %#v, %v", ks, err)
	}
	k1, sec1, err := s.CreateAPIKey(ctx, a.ID, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	k2, sec2, err := s.CreateAPIKey(ctx, a.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ak_[a-z2-7]{16}$`).MatchString(k1.ID) {
		t.Errorf("key id %q has the wrong shape", k1.ID)
	}
	if !regexp.MustCompile(`^pk_[A-Za-z0-9_-]{43}$`).MatchString(sec1) {
		t.Errorf("key secret has the wrong shape (len %d)", len(sec1))
	}
	if k1.OwnerID != a.ID || k1.Name != "deploy" || sec1 == sec2 || k1.ID == k2.ID {
		t.Fatalf("keys = %+v %+v", k1, k2)
	}
	_, _, err = s.CreateAPIKey(ctx, 999, "x")
	wantErr(t, err, ErrNotFound)

	ks, err := s.ListAPIKeys(ctx, a.ID)
	if err != nil || len(ks) != 2 || ks[0] != k1 || ks[1] != k2 {
		t.Fatalf("ListAPIKeys = %+v, %v", ks, err)
	}
	if ks, _ := s.ListAPIKeys(ctx, b.ID); len(ks) != 0 {
		t.Fatalf("bob sees alice's keys: %+v", ks)
	}

	acct, key, err := s.APIKeyAccount(ctx, sec1)
	if err != nil || acct != a || key != k1 {
		t.Fatalf("APIKeyAccount = %+v %+v %v", acct, key, err)
	}
	for _, bad := range []string{"", "pk_short", "ph_" + sec1[3:], newSecret(apiKeySecretPref)} {
		_, _, err := s.APIKeyAccount(ctx, bad)
		wantErr(t, err, ErrUnauthorized)
	}

	wantErr(t, s.DeleteAPIKey(ctx, b.ID, k1.ID), ErrNotFound) // not bob's
	if _, _, err := s.APIKeyAccount(ctx, sec1); err != nil {
		t.Fatalf("key gone after another owner's delete: %v", err)
	}
	wantErr(t, s.DeleteAPIKey(ctx, a.ID, k1.ID), nil)
	wantErr(t, s.DeleteAPIKey(ctx, a.ID, k1.ID), ErrNotFound)
	_, _, err = s.APIKeyAccount(ctx, sec1)
	wantErr(t, err, ErrUnauthorized)
	if _, _, err := s.APIKeyAccount(ctx, sec2); err != nil {
		t.Fatalf("other key: %v", err)
	}
}
