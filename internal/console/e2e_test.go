package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap"

	_ "github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/registry"
)

// screenshots is where the browser test leaves its pictures (git-ignored).
var screenshots = filepath.Join("..", "..", "artifacts", "console")

// browser returns a headless Chromium context, with the flags this
// machine kind needs (no sandbox as root, no background networking).
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		testkit.Missing(t, "Chromium", "apt-get install chromium", "no chromium: %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// consoleHost serves a dev host with the console and the reference
// mail-service, in harness mode when harness is set.
func consoleHost(t *testing.T, harness bool) string {
	t.Helper()
	mail := httptest.NewServer(mailservice.New(mailservice.Options{}))
	t.Cleanup(mail.Close)
	cfg := config.Default()
	cfg.Services = map[string]string{"mail-service": mail.URL}
	cfg.Harness.Enabled = harness
	h, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// page drives one tab.
type page struct {
	t   *testing.T
	ctx context.Context
}

// do runs steps, failing the test on the first that fails, with what the
// page showed then.
func (p page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		shown, _ := chromedp.Run(context.WithoutCancel(p.ctx), chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		p.t.Fatalf("%v; the page showed:\n%s", err, shown)
	}
}

// text returns the text of the node sel selects.
func (p page) text(sel string) string {
	p.t.Helper()
	return p.read("text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// value returns the value of the form control sel selects.
func (p page) value(sel string) string {
	p.t.Helper()
	return p.read("value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// eval returns what the page's expression js gives (a promise's value), as
// a string.
func (p page) eval(js string) string {
	p.t.Helper()
	return p.read("evaluate "+js, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
}

// read runs a, failing the test with what it read if it fails.
func (p page) read(what string, a chromedp.Action[string]) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return s
}

// clearResult empties the result card, so that the next one is told
// from the last.
func (p page) clearResult() {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](
		`document.querySelector('#result').replaceChildren(), document.querySelector('#result').classList.add('hidden'), true`)); err != nil {
		p.t.Fatal(err)
	}
}

// shoot saves a screenshot of the whole page.
func (p page) shoot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.MkdirAll(screenshots, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(screenshots, name), png, 0o644)
	}
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	p.t.Logf("screenshot %s", filepath.Join(screenshots, name))
}

// A developer's round in a real browser: list_inbox through the form (a
// miss), again (a hit), archive_message (its event and panel refresh),
// then a replay of the first call, which misses again since the archive
// dropped the inbox page.
func TestConsoleInABrowser(t *testing.T) {
	base := consoleHost(t, false)
	p := page{t, browser(t, 1280, 800)}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	callInbox := func() {
		p.clearResult()
		p.do(chromedp.Click(css(`aside button[data-function="list_inbox"]`)),
			chromedp.SetValue(css(`#p-account_id`), "work"),
			chromedp.Click(css(`#call`)),
			chromedp.WaitVisible(css(`#result #cache-reads`)))
	}
	p.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`aside button[data-function="list_inbox"]`)))
	callInbox()
	if status, reads := p.text(`#result-status`), p.text(`#cache-reads`); status != "success" || !strings.Contains(reads, "miss") || strings.Contains(reads, "hit") {
		t.Fatalf("first call: %s, reads %q", status, reads)
	}
	callInbox()
	if reads := p.text(`#cache-reads`); !strings.Contains(reads, "hit") {
		t.Fatalf("second call: reads %q, want a hit", reads)
	}
	p.shoot("list_inbox-1280.png")
	var inbox struct {
		Data struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		} `json:"data"`
	}
	if answer := p.text(`#answer`); json.Unmarshal([]byte(answer), &inbox) != nil || len(inbox.Data.Messages) == 0 {
		t.Fatalf("answer %.200s", answer)
	}

	p.clearResult()
	p.do(chromedp.Click(css(`aside button[data-function="archive_message"]`)),
		chromedp.SetValue(css(`#p-account_id`), "work"),
		chromedp.SetValue(css(`#p-message_id`), inbox.Data.Messages[0].ID),
		chromedp.Click(css(`#call`)),
		chromedp.WaitVisible(css(`#event`)))
	if status, event, refresh := p.text(`#result-status`), p.text(`#event`), p.text(`#refresh`); status != "success" ||
		!strings.Contains(event, "email.archived") || refresh == "" || refresh == "none" {
		t.Fatalf("archive: %s, event %q, refresh %q", status, event, refresh)
	}
	p.shoot("archive-1280.png")

	// Replay the first call from the history (its oldest line): the raw
	// editor holds exactly what it sent, and it misses again.
	p.clearResult()
	p.do(chromedp.Click(css(`#history li:last-child`)), chromedp.WaitVisible(css(`#replay`)), chromedp.Click(css(`#replay`)),
		chromedp.WaitVisible(css(`#raw`)))
	var sent, replayed map[string]any
	if err := json.Unmarshal([]byte(p.value(`#raw`)), &replayed); err != nil || replayed["account_id"] != "work" {
		t.Fatalf("replay editor %q: %v", p.value(`#raw`), err)
	}
	if err := json.Unmarshal([]byte(p.eval(`getJSON("/console/api/calls?function=list_inbox").then((r) => JSON.stringify(r.body.calls.at(-1).params))`)), &sent); err != nil ||
		!maps.EqualFunc(sent, replayed, func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		t.Fatalf("replay editor %v, recorded %v (%v)", replayed, sent, err)
	}
	p.clearResult()
	p.do(chromedp.Click(css(`#call`)), chromedp.WaitVisible(css(`#result #cache-reads`)))
	if status, reads := p.text(`#result-status`), p.text(`#cache-reads`); status != "success" || !strings.Contains(reads, "miss") {
		t.Fatalf("replay: %s, reads %q, want a miss after the archive", status, reads)
	}

	// Raw JSON: the hidden form's required fields do not block it, and
	// JSON that does not parse says so instead of calling.
	p.clearResult()
	p.do(chromedp.Click(css(`aside button[data-function="archive_message"]`)), chromedp.Click(css(`#raw-toggle`)),
		chromedp.SetValue(css(`#raw`), `{"account_id": "work", "message_id": "no-such-message"`),
		chromedp.Click(css(`#call`)), chromedp.WaitVisible(css(`#params-problem`)))
	if problem := p.text(`#params-problem`); !strings.Contains(problem, "not valid JSON") {
		t.Fatalf("invalid JSON: %q", problem)
	}
	p.do(chromedp.SetValue(css(`#raw`), `{"account_id": "work", "message_id": "no-such-message"}`),
		chromedp.Click(css(`#call`)), chromedp.WaitVisible(css(`#result #answer`)), chromedp.WaitNotVisible(css(`#params-problem`)))
	var held map[string]any
	if err := json.Unmarshal([]byte(p.eval(`getJSON("/console/api/calls?function=archive_message").then((r) => JSON.stringify(r.body.calls[0].params))`)), &held); err != nil ||
		len(held) != 2 || held["message_id"] != "no-such-message" || p.text(`#result h2`) == "" {
		t.Fatalf("raw archive sent %v (%v), want the editor's object", held, err)
	}

	// A recorded call of a function the host no longer serves opens a
	// notice, not a broken page.
	p.eval(`replay({app_id: "mail-client", function: "gone_function", user_id: "demo", params: {}}), ""`)
	p.do(chromedp.WaitVisible(css(`#unknown-function`)))

	// A call held at the confirmation gate: confirmed with its button.
	p.clearResult()
	p.do(chromedp.Click(css(`aside button[data-function="purge_trash"]`)),
		chromedp.SetValue(css(`#p-account_id`), "work"),
		chromedp.Click(css(`#call`)),
		chromedp.WaitVisible(css(`#confirm`)))
	p.shoot("confirm-1280.png")
	p.do(chromedp.Click(css(`#confirm`)), chromedp.WaitNotPresent(css(`#confirm`)), chromedp.WaitVisible(css(`#result #answer`)))
	if status := p.text(`#result-status`); status != "success" {
		t.Fatalf("confirmed purge_trash: %s", status)
	}

	// A background task: its bar runs to the end, its notification is a toast.
	p.clearResult()
	p.do(chromedp.Click(css(`aside button[data-function="archive_by_query"]`)),
		chromedp.SetValue(css(`#p-account_id`), "work"),
		chromedp.SetValue(css(`#p-query`), "is:read"),
		chromedp.Click(css(`#call`)),
		chromedp.WaitVisible(css(`#task-result`)),
		chromedp.WaitVisible(css(`.toast`)))
	if note, result := p.text(`#task-message`), p.text(`#task-result`); !strings.HasPrefix(note, "success") || !strings.Contains(result, `"status": "success"`) {
		t.Fatalf("task: %q, result %.200s", note, result)
	}
	p.shoot("task-1280.png")

	// Usable at 800 px: the same page, narrow.
	narrow := page{t, browser(t, 800, 1000)}
	narrow.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`#call`)))
	narrow.shoot("console-800.png")
}

// In harness mode the page shows the harness clock and moves it.
func TestConsoleMovesTheHarnessClock(t *testing.T) {
	base := consoleHost(t, true)
	p := page{t, browser(t, 1280, 800)}
	p.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#clock`)))
	before, err := time.Parse(time.RFC3339Nano, p.text(`#clock`))
	if err != nil {
		t.Fatal(err)
	}
	p.do(chromedp.Click(chromedp.CSS(`#clock-advance`)))
	testkit.WaitFor(t, 10*time.Second, "the clock moved", func() bool {
		after, err := time.Parse(time.RFC3339Nano, p.text(`#clock`))
		return err == nil && after.Sub(before) >= 61*time.Second
	})
}
