package client_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/client/fakeserver"
)

func TestParseSettings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []client.Setting
		bad  bool
	}{
		{
			in:   "url = ws://x\n",
			want: []client.Setting{{Key: "url", Value: "ws://x", Line: 1}},
		},
		{
			in:   "# comment\n\n  -room lobby\n--token=ph_x\n-binary\n",
			want: []client.Setting{{Key: "room", Value: "lobby", Line: 3}, {Key: "token", Value: "ph_x", Line: 4}, {Key: "binary", Line: 5}},
		},
		{
			in:   `-message "# not a comment "` + "\n",
			want: []client.Setting{{Key: "message", Value: "# not a comment ", Line: 1}},
		},
		{
			in:  "just words\n",
			bad: true,
		},
		{
			in:  "= value\n",
			bad: true,
		},
		{
			in:  "-x \"unterminated\n",
			bad: true,
		},
	} {
		got, err := client.ParseSettings(strings.NewReader(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := client.ParseConfig(strings.NewReader("colour = blue\n")); err == nil {
		t.Error("unknown key accepted")
	}
}

func TestDialConfig(t *testing.T) {
	srv := setup(t)
	srv.AddRoom(fakeserver.Room{Name: "square", Public: true})
	path := filepath.Join(t.TempDir(), "conf")
	conf := "url = " + srv.URL + "\n-token " + secretA + "\nroom = square\nauth = message\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := client.DialConfig(testCtx(t), "@"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !slices.Contains(srv.Members("square"), c.SocketID()) {
		t.Fatalf("not joined to square: %v", srv.Members("square"))
	}
	if _, err := client.DialConfig(testCtx(t), "@"+path+".missing"); err == nil {
		t.Fatal("missing file accepted")
	}
}
