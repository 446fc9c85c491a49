package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/porthouse/porthouse/internal/testserver"
	"github.com/porthouse/porthouse/internal/wstest"
)

// chromiumPath is Debian's chromium, installed by scripts/test-deps.sh.
const chromiumPath = "/usr/bin/chromium"

// screenshotEnv names a directory; when set, the browser test saves
// screenshots of the dashboard and the tokens page there (desktop and
// phone widths), for a look at the design.
const screenshotEnv = "PORTHOUSE_UI_SCREENSHOTS"

// browserPage is a headless chromium tab driven by chromedp, with the
// page's script errors collected.
type browserPage struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

// newBrowser starts chromium for the test; it fails (never skips) when
// chromium is missing. Every step runs within timeout in all.
func newBrowser(t *testing.T, timeout time.Duration) *browserPage {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the UI browser test needs chromium at %s (%v): run `make test`, which installs it (scripts/test-deps.sh)", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
		acancel()
	})
	// The first run starts the browser and must not carry a deadline (it
	// would stop the browser); the steps after it share one.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(cancel)
	b := &browserPage{t: t, ctx: ctx}
	err := chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.addErr(fmt.Sprintf("exception: %s %s", ev.ExceptionDetails.Text, describe(ev.ExceptionDetails.Exception)))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, describe(a))
				}
				b.addErr("console.error: " + strings.Join(parts, " "))
			}
		case *log.EventEntryAdded:
			if ev.Entry != nil && ev.Entry.Level == log.EntryLevelError {
				b.addErr("log: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the page: %v", err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the page log: %v", err)
	}
	return b
}

// describe is a short text for a JavaScript value.
func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Value)
}

func (b *browserPage) addErr(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, s)
}

// pageErrors returns the script errors seen so far.
func (b *browserPage) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// do runs steps, failing the test with what it was doing.
func (b *browserPage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v (page errors: %v)", what, err, b.pageErrors())
	}
}

// get runs one action and returns its value.
func get[T any](b *browserPage, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %s: %v (page errors: %v)", what, err, b.pageErrors())
	}
	return v
}

// waitFor polls a JavaScript condition in the page until it holds, within d.
func (b *browserPage) waitFor(what, cond string, d time.Duration) {
	b.t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// css is a CSS selector (the first match).
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// screenshot saves the page at desktop and phone widths when screenshotEnv
// names a directory.
func (b *browserPage) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv(screenshotEnv)
	if dir == "" {
		return
	}
	for _, size := range []struct {
		suffix string
		emu    chromedp.Action[chromedp.Void]
	}{
		{"", chromedp.EmulateViewport(1280, 900)},
		{"-phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)},
	} {
		b.do("resize for "+name+size.suffix, size.emu, chromedp.Sleep(300*time.Millisecond))
		png := get(b, "screenshot "+name, chromedp.FullScreenshot(100))
		file := filepath.Join(dir, "porthouse-"+name+size.suffix+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			b.t.Fatalf("screenshot: %v", err)
		}
		b.t.Logf("screenshot: %s", file)
	}
	b.do("restore the viewport", chromedp.EmulateViewport(1280, 900))
}

// apiToken is a token as GET /api/v1/tokens lists it.
type apiToken struct {
	ID        string
	Name      string
	ExpiresAt *time.Time `json:"expires_at"`
}

// TestUIBrowser drives the HTML UI in headless chromium against a real
// server: log in, create a room and a token, read the secret shown once,
// connect a WebSocket client with it, watch its message arrive in the room
// console (and answer from the console), then delete the token in the UI and
// see the client closed with 4001.
func TestUIBrowser(t *testing.T) {
	srv := testserver.Start(t)
	b := newBrowser(t, 60*time.Second)
	base := srv.URL
	const room = "ui-room"
	const tokenName = "ui-token"

	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(b.ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name},
			Setting:    browser.PermissionSettingGranted,
			Origin:     base,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}

	// A page needs a session: the browser lands on the login form.
	b.do("open the UI", chromedp.Navigate(base+"/tokens"), chromedp.WaitVisible(css(`#username`)))
	if loc := get(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/login?next=%2Ftokens") {
		t.Fatalf("not sent to log in: %s", loc)
	}
	b.do("log in",
		chromedp.SendKeys(css(`#username`), "admin"),
		chromedp.SendKeys(css(`#password`), testserver.AdminPassword),
		chromedp.Click(css(`form[data-form="login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`body[data-page="tokens"]`)),
	)

	b.do("create a room",
		chromedp.Navigate(base+"/rooms"),
		chromedp.Click(css(`details.create > summary`)),
		chromedp.WaitVisible(css(`#room-name`)),
		chromedp.SendKeys(css(`#room-name`), room),
		chromedp.Click(css(`form[data-form="room-create"] input[name="presence"]`)),
		chromedp.Click(css(`form[data-form="room-create"] button[type=submit]`)),
		chromedp.WaitVisible(css(`tr[data-room-row="`+room+`"]`)),
	)
	var created struct{ Presence bool }
	srv.MustAPI(http.StatusOK, "GET", "/api/v1/rooms/"+room, nil, &created)
	if !created.Presence {
		t.Errorf("room made without the presence rule: %+v", created)
	}

	b.do("create a token",
		chromedp.Navigate(base+"/tokens"),
		chromedp.Click(css(`#token-create > summary`)),
		chromedp.WaitVisible(css(`#token-name`)),
		chromedp.SendKeys(css(`#token-name`), tokenName),
		chromedp.Click(css(`form[data-form="token-create"] tr[data-sub-room="`+room+`"] input[data-sub-on]`)),
		chromedp.Click(css(`form[data-form="token-create"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#secret-panel`)),
	)
	secret := get(b, "read the secret", chromedp.Text(css(`#secret-value`)))
	if !strings.HasPrefix(secret, "ph_") || len(secret) != 46 {
		t.Fatalf("secret shown: %q", secret)
	}
	b.do("copy the secret", chromedp.Click(css(`#copy-secret`)))
	b.waitFor("the copy button says so", `document.querySelector('#copy-secret').textContent === 'Copied'`, 5*time.Second)
	if clip := get(b, "read the clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); clip != secret {
		t.Errorf("clipboard holds %q, want the secret", clip)
	}

	b.screenshot("secret")

	// The secret works on the socket path.
	client := wstest.MustDial(t, srv.WSURL+"/ws", wstest.Bearer(secret))
	welcome := client.Expect("welcome")
	tokenID, _, _ := strings.Cut(welcome.Str("socket"), "/")
	if !strings.HasPrefix(tokenID, "tk_") {
		t.Fatalf("welcome %v", welcome)
	}

	// Once dismissed, the secret is gone from the page for good.
	b.do("dismiss the secret",
		chromedp.Click(css(`[data-action="secret-done"]`)),
		chromedp.WaitVisible(css(`tr[data-token-row="`+tokenID+`"]`)),
	)
	if html := get(b, "read the page", chromedp.OuterHTML(css(`html`))); strings.Contains(html, secret) {
		t.Fatal("the tokens page shows the secret after reload")
	}
	b.waitFor("the token shows its live socket", fmt.Sprintf(`document.querySelector('[data-token-online="%s"]').textContent === '1'`, tokenID), 10*time.Second)
	b.screenshot("tokens")
	// The admin's server panel counts the client's socket and a refused
	// handshake and, from the next poll on, shows rates.
	if _, err := wstest.Dial(srv.WSURL+"/ws", wstest.Bearer("ph_not-a-token")); err == nil {
		t.Fatal("a handshake with a bad token was accepted")
	}
	b.do("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`[data-server-panel]`)))
	for _, fig := range []string{"sockets_open", "handshakes_refused_total"} {
		if n := get(b, "read "+fig, chromedp.Text(css(`[data-server="`+fig+`"]`))); n == "0" || n == "" {
			t.Errorf("server panel: %s %q, want at least 1", fig, n)
		}
	}
	b.waitFor("the server panel shows rates", `[...document.querySelectorAll('[data-rate]')].every((el) => el.textContent.endsWith('/s'))`, 10*time.Second)
	b.screenshot("dashboard")

	b.do("open the console",
		chromedp.Navigate(base+"/rooms/"+room+"/console"),
		chromedp.WaitVisible(css(`#console[data-state="online"]`)),
	)
	// The console's socket joined the presence room.
	if m := client.Expect("member.joined"); m.Str("room") != room || !strings.HasPrefix(m.Str("socket"), "tk_") {
		t.Fatalf("member.joined %v", m)
	}
	client.WriteJSON(map[string]any{"type": "send", "room": room, "data": "hello from wstest", "ref": "w1"})
	if r := client.Expect("receipt"); r.Str("ref") != "w1" {
		t.Fatalf("receipt %v", r)
	}
	b.waitFor("the message in the console", `document.querySelector('#console-log').textContent.includes('hello from wstest')`, 5*time.Second)
	if from := get(b, "read the sender", chromedp.Text(css(`#console-log li.log-message .log-from`))); from != welcome.Str("socket") {
		t.Errorf("console shows the message from %q, want %q", from, welcome.Str("socket"))
	}
	b.screenshot("console")

	// And the console talks back.
	b.do("send from the console",
		chromedp.SendKeys(css(`#console-input`), "hello from the console"),
		chromedp.Click(css(`#console-send`)),
	)
	if m := client.Expect("message"); m.Str("data") != "hello from the console" || m.Str("room") != room {
		t.Fatalf("message from the console %v", m)
	}
	b.waitFor("the receipt in the console", `!document.querySelector('#console-log').textContent.includes('sending…')`, 5*time.Second)

	// The console's own token: named for the room, expiring within the hour.
	consoleTokens := func() []apiToken {
		var tokens, out []apiToken
		srv.MustAPI(http.StatusOK, "GET", "/api/v1/tokens", nil, &tokens)
		for _, tk := range tokens {
			if tk.Name == "console:"+room {
				out = append(out, tk)
			}
		}
		return out
	}
	if cts := consoleTokens(); len(cts) != 1 {
		t.Errorf("console tokens %+v, want one", cts)
	} else if exp := cts[0].ExpiresAt; exp == nil || time.Until(*exp) > time.Hour || time.Until(*exp) < 55*time.Minute {
		t.Errorf("console token expires at %v", exp)
	}

	if os.Getenv(screenshotEnv) != "" {
		b.do("open the token", chromedp.Navigate(base+"/tokens/"+tokenID), chromedp.WaitVisible(css(`[data-token-subs]`)))
		b.screenshot("token")
		b.do("open the rooms", chromedp.Navigate(base+"/rooms"), chromedp.Click(css(`details.create > summary`)), chromedp.WaitVisible(css(`#room-name`)))
		b.screenshot("rooms")
	}

	deleteBtn := css(`tr[data-token-row="` + tokenID + `"] button[data-action="token-delete"]`)
	b.do("delete the token",
		chromedp.Navigate(base+"/tokens"),
		chromedp.WaitVisible(deleteBtn),
		chromedp.Click(deleteBtn), // arms
		chromedp.Click(deleteBtn), // confirms
	)
	if code := client.ExpectClose(); code != 4001 {
		t.Fatalf("client closed with %d, want 4001", code)
	}
	// Leaving the console deleted its token.
	for deadline := time.Now().Add(5 * time.Second); len(consoleTokens()) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the console token outlived the console: %+v", consoleTokens())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.do("see the token gone",
		chromedp.WaitNotPresent(css(`tr[data-token-row="`+tokenID+`"]`)),
		chromedp.WaitVisible(css(`#flash`)),
	)
	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
