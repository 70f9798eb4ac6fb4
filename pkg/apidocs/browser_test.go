package apidocs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/admin"
	"github.com/llm-router/llm-router/pkg/apidocs"
	"github.com/llm-router/llm-router/pkg/app"
)

// chromiumPath finds the browser. CI installs Debian's chromium (.ci/run); without it the
// test fails under CI and is skipped, saying why, elsewhere.
func chromiumPath(t *testing.T) string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (CI must install Debian's chromium package: .ci/run does)")
	}
	t.Skip("no Chromium found: install Debian's chromium (or set CHROMIUM) to run the browser test")
	return ""
}

// profileDir is a fresh Chromium profile. Chromium's helper processes may still write
// to it while the browser exits, so its removal is best effort (t.TempDir would fail
// the test on a non-empty directory).
func profileDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "llm-router-chromium-")
	require.NoError(t, err)
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}

// runGateway starts `llm-router run` in-process with the default config and returns
// the data-plane and admin base URLs.
func runGateway(t *testing.T, key string) (dataPlane, adminBase string) {
	cfg, err := app.LoadConfig("", true)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ready, adminReady := make(chan string, 1), make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, cfg, app.RunOptions{
			Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", DevKey: key,
			Ready:      func(a string) { ready <- a },
			AdminReady: func(a string) { adminReady <- a },
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case a := <-ready:
		dataPlane = "http://" + a
	case err := <-done:
		t.Fatalf("run stopped: %v", err)
	}
	return dataPlane, "http://" + <-adminReady
}

// operations lists "METHOD path" for every operation of an OpenAPI document.
func operations(t *testing.T, doc []byte) []string {
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(doc, &d))
	var out []string
	for p, item := range d.Paths {
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// pageProblems collects what would mean a broken page: uncaught exceptions and console
// errors (Content-Security-Policy violations among them).
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *pageProblems) listen(ctx context.Context) {
	chromedp.ListenTarget(ctx, func(ev any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			p.list = append(p.list, "exception: "+e.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				p.list = append(p.list, "console.error: "+strings.Join(args, " "))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError {
				p.list = append(p.list, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})
}

func (p *pageProblems) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// renderedOperations reads "METHOD path" of every operation block on the page.
const renderedOperations = `Array.from(document.querySelectorAll('.opblock')).map(function (b) {
  var m = b.querySelector('.opblock-summary-method');
  var p = b.querySelector('.opblock-summary-path');
  return (m ? m.textContent.trim() : '?') + ' ' + (p ? p.getAttribute('data-path') : '?');
}).sort()`

// titled finds the page's title once it names the document.
func titled(name string) string {
	return `//*[contains(@class,"information-container")]//*[contains(@class,"title")][contains(., "` + name + `")]`
}

// chooseDefinition picks a document in the page's definition selector as a user would:
// the value changes through the element's native setter (React tracks values set
// through the property) and a change event follows.
func chooseDefinition(url string) string {
	return `(function () {
  var s = document.querySelector('.topbar select');
  Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set.call(s, '` + url + `');
  s.dispatchEvent(new Event('change', {bubbles: true}));
})()`
}

// step is one user action on the page, with its own deadline.
type step struct {
	name    string
	actions []chromedp.Action
}

// runSteps runs steps in order; on a failure it saves a screenshot and says which step.
func runSteps(t *testing.T, ctx context.Context, problems *pageProblems, steps ...step) {
	t.Helper()
	for _, st := range steps {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Run(sctx, st.actions...)
		cancel()
		if err == nil {
			continue
		}
		shot := filepath.Join(os.TempDir(), "llm-router-docs-failure.png")
		var png []byte
		if chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)) == nil {
			_ = os.WriteFile(shot, png, 0o600)
		}
		t.Fatalf("step %q: %v (screenshot: %s; page problems: %v)", st.name, err, shot, problems.get())
	}
}

// TestReferencePageInChromium opens the API reference page of `llm-router run` in a real
// headless Chromium: both documents render every operation they hold, with no script
// error or CSP violation, and "Try it out" on POST /v1/chat/completions, authorized
// through the page's own dialog, gets a real answer from the data plane (a cross-origin
// call, so the emulated CORS filter is exercised too).
func TestReferencePageInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	const key = "llmr-dev-browser-test"
	dataPlane, adminBase := runGateway(t, key)

	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profileDir(t)),
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	var problems pageProblems
	problems.listen(ctx)

	// 1. The public document, the page's first.
	var title string
	var rendered []string
	require.NoError(t, chromedp.Run(ctx,
		runtime.Enable(), log.Enable(),
		chromedp.Navigate(adminBase+"/docs/"),
		chromedp.WaitVisible(`.opblock`, chromedp.ByQuery),
		chromedp.Text(`.information-container .title`, &title, chromedp.ByQuery),
		chromedp.Evaluate(renderedOperations, &rendered),
	), "the public document did not render")
	require.Contains(t, title, "llm-router public API")
	require.Equal(t, operations(t, apidocs.PublicOpenAPI()), rendered)
	var servers []string
	require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(
		`Array.from(document.querySelectorAll('.servers select option')).map(function (o) { return o.value })`, &servers)))
	require.Equal(t, []string{dataPlane}, servers, "Try it out must target run's data plane")

	// 2. The admin document, chosen in the page's definition selector.
	adminOps := operations(t, admin.OpenAPI())
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Evaluate(chooseDefinition("../openapi/admin.json"), nil),
		chromedp.WaitVisible(titled("llm-router admin API"), chromedp.BySearch),
		chromedp.Poll(fmt.Sprintf(`document.querySelectorAll('.opblock').length === %d`, len(adminOps)), nil),
		chromedp.Evaluate(renderedOperations, &rendered),
	), "the admin document did not render")
	require.Equal(t, adminOps, rendered)

	// 3. Back to the public document; authorize with the key and try a chat completion.
	chat := `//div[contains(@class,"opblock-post")][.//*[@data-path="/v1/chat/completions"]]`
	bearer := `//input[@aria-label="auth-bearer-value"]/ancestor::form`
	live := chat + `//table[contains(@class,"live-responses-table")]`
	var status, body, curl string
	runSteps(t, ctx, &problems,
		step{"choose the public document", []chromedp.Action{
			chromedp.Evaluate(chooseDefinition("../openapi/public.json"), nil),
			chromedp.WaitVisible(titled("llm-router public API"), chromedp.BySearch),
		}},
		step{"authorize with the key", []chromedp.Action{
			chromedp.Click(`.auth-wrapper button.authorize`, chromedp.ByQuery),
			chromedp.WaitVisible(`input[aria-label="auth-bearer-value"]`, chromedp.ByQuery),
			chromedp.SendKeys(`input[aria-label="auth-bearer-value"]`, key, chromedp.ByQuery),
			chromedp.Click(bearer+`//button[@type="submit"]`, chromedp.BySearch),
			// Once authorized, the scheme's input gives way to a Logout button.
			chromedp.WaitVisible(`//div[contains(@class,"modal-ux")]//button[normalize-space()="Logout"]`, chromedp.BySearch),
			chromedp.Click(`button.btn-done`, chromedp.ByQuery),
			chromedp.WaitNotPresent(`.modal-ux`, chromedp.ByQuery),
		}},
		step{"open POST /v1/chat/completions and try it out", []chromedp.Action{
			chromedp.Click(chat+`//button[contains(@class,"opblock-summary-control")]`, chromedp.BySearch),
			chromedp.Click(chat+`//button[contains(@class,"try-out__btn")]`, chromedp.BySearch),
			chromedp.Click(chat+`//button[contains(@class,"execute")]`, chromedp.BySearch),
		}},
		step{"read the live response", []chromedp.Action{
			chromedp.WaitVisible(live+`//tbody//td[contains(@class,"response-col_status")]`, chromedp.BySearch),
			chromedp.Text(live+`//tbody//td[contains(@class,"response-col_status")]`, &status, chromedp.BySearch),
			chromedp.Text(live+`//tbody//td[contains(@class,"response-col_description")]//pre`, &body, chromedp.BySearch),
			chromedp.Text(chat+`//div[contains(@class,"curl-command")]`, &curl, chromedp.BySearch),
		}},
	)
	require.Equal(t, "200", strings.TrimSpace(status), "response body: %s", body)
	require.Contains(t, body, `"object": "chat.completion"`)
	require.Contains(t, body, `"total_tokens"`)
	require.Contains(t, curl, dataPlane+"/v1/chat/completions")
	require.Contains(t, curl, "Authorization: Bearer "+key)

	require.Empty(t, problems.get(), "the page reported errors")
}
