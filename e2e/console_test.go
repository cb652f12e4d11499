package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/testhosts"
)

// TestConsole deploys hello (3 tasks, one a host) to the 3 real hosts, starts the real deck
// console and opens it in headless Chromium: without the token the browser gets 401; with
// it the page shows the services and tasks deck status shows; a task killed with podman
// kill shows up as stopped on the page without a reload; and every request the page made
// was to the console's own origin. Screenshots go to $DECK_SCREENSHOTS (default: a new
// temp dir), printed in the log; so is the page's first paint.
func TestConsole(t *testing.T) {
	chromium := testhosts.Program(t, "chromium")
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", execManifest)
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	st := a.status()
	require.Len(t, st.Services, 1)
	require.Len(t, st.Services[0].Tasks, 3)

	pageURL := startConsole(t, a, "--refresh", "1s")
	u, err := url.Parse(pageURL)
	require.NoError(t, err)
	origin := u.Scheme + "://" + u.Host
	assert.Equal(t, "127.0.0.1", u.Hostname(), "bound to 127.0.0.1 by default")
	token := u.Query().Get("token")
	require.Len(t, token, 64, "a random token: 32 bytes, hex")

	// Without the token, or with a wrong one, nothing is served: not the page, not its
	// stream, not its files.
	for _, path := range []string{"/", "/?token=" + token[:63] + "0", "/stream", "/static/console.js"} {
		code, body, err := get(origin + path)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, code, path)
		assert.NotContains(t, body, token, path)
	}

	shots := screenshotDir(t)
	ctx, cancel := browser(t, chromium)
	defer cancel()
	var mu sync.Mutex
	var requests []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}))
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(origin+"/"))
	require.NoError(t, err)
	assert.Equal(t, int64(http.StatusUnauthorized), resp.Status, "the browser without the token gets 401")
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	assert.Contains(t, text, "401 unauthorized")
	screenshot(t, ctx, shots, "1-no-token-401.png")

	// The printed URL: the page, with the services table painted from the first response.
	start := time.Now()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.CSS(`#services-table tr[data-service="hello"]`))))
	visible := time.Since(start)
	// The paint entry is recorded a frame after the element is there: wait for it.
	pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
	fcp, err := chromedp.Run(pctx, chromedp.Evaluate[float64](`new Promise(resolve => new PerformanceObserver(list => {
		const e = list.getEntriesByName('first-contentful-paint')[0];
		if (e) resolve(e.startTime);
	}).observe({type: 'paint', buffered: true}))`, chromedp.EvalAwaitPromise))
	pcancel()
	require.NoError(t, err, "the browser reports a first contentful paint")
	require.Greater(t, fcp, 0.0, "the browser reports a first contentful paint")
	t.Logf("console first paint: first-contentful-paint %.0f ms after navigation start; services table visible %s after Navigate",
		fcp, visible.Round(time.Millisecond))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, origin+"/", loc, "the token left the address bar")
	// The stream is connected once the script says so.
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#live.ok`))))
	screenshot(t, ctx, shots, "2-page.png")

	// The services and tasks deck status shows.
	type pageTask struct{ ID, Host, State, Service string }
	type pageService struct{ Name, Desired, Running, Healthy string }
	var services []pageService
	var tasks []pageTask
	readPage := func() {
		t.Helper()
		var err error
		services, err = chromedp.Run(ctx, chromedp.Evaluate[[]pageService](`Array.from(document.querySelectorAll('#services-table tbody tr[data-service]')).map(tr => ({
				Name: tr.dataset.service, Desired: tr.querySelector('.desired').textContent,
				Running: tr.querySelector('.running').textContent, Healthy: tr.querySelector('.healthy').textContent}))`))
		require.NoError(t, err)
		tasks, err = chromedp.Run(ctx, chromedp.Evaluate[[]pageTask](`Array.from(document.querySelectorAll('table.tasks tr[data-task]')).map(tr => ({
				ID: tr.dataset.task, Host: tr.closest('table').dataset.host,
				State: tr.querySelector('.state').textContent, Service: tr.cells[1].textContent}))`))
		require.NoError(t, err)
	}
	readPage()
	s := st.Services[0]
	require.Len(t, services, 1)
	assert.Equal(t, pageService{Name: s.Name, Desired: fmt.Sprint(*s.Desired), Running: fmt.Sprint(s.Running), Healthy: fmt.Sprint(s.Healthy)},
		services[0], "the page's counts are deck status's")
	var want, got []string
	for _, task := range s.Tasks {
		want = append(want, s.Name+" "+task.Host+" "+task.ID+" "+task.State)
	}
	for _, task := range tasks {
		got = append(got, task.Service+" "+task.Host+" "+task.ID+" "+task.State)
	}
	sort.Strings(want)
	sort.Strings(got)
	assert.Equal(t, want, got, "the page's tasks, per host, are deck status's")
	hostRows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#hosts-table tr[data-host]').length`))
	require.NoError(t, err)
	assert.Equal(t, 3, hostRows, "every host's capacity")
	// The plan, history, events and logs come in over the stream.
	for _, sel := range []string{`#plan pre`, `#history-table`, `#events ol.events li`, `#logs pre.log[data-service="hello"]`} {
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		assert.NoError(t, chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(sel))), sel)
		wcancel()
	}
	screenshot(t, ctx, shots, "3-page-streamed.png")

	// Kill a task: the page shows it stopped, and one running fewer, without a reload.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.deckBeforeKill = true`))
	require.NoError(t, err)
	killedID := podmanKill(t, hosts, "hello", "h1").TaskID
	require.Contains(t, want, s.Name+" h1 "+killedID+" running", "the killed task is one deck status showed")
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	require.NoError(t, chromedp.Do(wctx,
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`table.tasks[data-host="h1"] tr[data-task=%q]:not([data-state="running"])`, killedID)))))
	_, err = chromedp.Run(wctx, chromedp.Poll[bool](
		`document.querySelector('#services-table tr[data-service="hello"] .running').textContent === '2'`,
		chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "the service's running count goes to 2")
	// The pending plan follows: it now has a task to start in the dead one's place.
	_, err = chromedp.Run(wctx, chromedp.WaitVisible(chromedp.CSS(`#plan pre.changes`)))
	require.NoError(t, err, "the pending plan shows the dead task's replacement")
	planText, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#plan pre`)))
	require.NoError(t, err)
	assert.Contains(t, planText, killedID, "the plan names the dead task")
	sameDocument, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.deckBeforeKill === true`))
	require.NoError(t, err)
	assert.True(t, sameDocument, "the page was not reloaded")
	readPage()
	for _, task := range tasks {
		if task.ID == killedID {
			assert.NotEqual(t, "running", task.State)
		} else {
			assert.Equal(t, "running", task.State, task.ID)
		}
	}
	screenshot(t, ctx, shots, "4-task-killed.png")

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, requests)
	for _, r := range requests {
		assert.True(t, strings.HasPrefix(r, origin+"/"), "the page asked for %s, outside %s", r, origin)
	}
	t.Logf("the page made %d requests, all to %s", len(requests), origin)
}

// TestConsoleDeployAndRollback: with --allow-deploy, the page's Deploy button applies the
// pending plan the page shows (a changed variable: a new revision) and its Roll back button
// returns the service to the revision before, each after the browser's confirmation, both
// through the pipeline and lock of deck deploy and deck rollback, as deck history records.
func TestConsoleDeployAndRollback(t *testing.T) {
	chromium := testhosts.Program(t, "chromium")
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", execManifest+"variables:\n  GREETING: one\n")
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	first := a.status().Services[0].Tasks[0].Revision
	a.write("deck/hello.yaml", execManifest+"variables:\n  GREETING: two\n")

	pageURL := startConsole(t, a, "--refresh", "1s", "--allow-deploy")
	shots := screenshotDir(t)
	ctx, cancel := browser(t, chromium)
	defer cancel()
	// The page asks with window.confirm before each change. A real dialog would stop the
	// page until answered, and the protocol's answer cannot reach a tab whose click is
	// still waiting on it; so the test answers yes itself, after noting the question.
	confirmYes := func() {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.confirm = q => { sessionStorage.setItem('asked', (sessionStorage.getItem('asked') || '') + q + '\n'); return true; }, true)`))
		require.NoError(t, err)
	}
	wait := func(sel string, d time.Duration) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, d)
		defer wcancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			screenshot(t, ctx, shots, "failed.png")
			html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("waiting for %s: %v; the page shows:\n%s", sel, err, html)
		}
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(pageURL)))
	wait(`#plan pre.changes`, 60*time.Second)
	plan, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#plan pre`)))
	require.NoError(t, err)
	assert.Contains(t, plan, "hello", "the pending plan changes hello")
	screenshot(t, ctx, shots, "deploy-1-pending-plan.png")

	confirmYes()
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#deploy`))))
	wait(`#operation h2[data-what="deck deploy"] [data-done]`, 3*time.Minute)
	out, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#operation`)))
	require.NoError(t, err)
	require.Contains(t, out, "done", out)
	assert.Contains(t, out, "✓ hello: 3 started, 3 stopped", out)
	wait(`#plan pre.nochanges`, 60*time.Second)
	screenshot(t, ctx, shots, "deploy-2-deployed.png")
	second := a.status().Services[0].Tasks[0].Revision
	assert.NotEqual(t, first, second, "the deploy from the page made a new revision")

	confirmYes() // the page was loaded again after the deploy's POST
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#services-table tr[data-service="hello"] button.rollback`))))
	wait(`#operation h2[data-what="deck rollback hello"] [data-done]`, 3*time.Minute)
	out, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#operation`)))
	require.NoError(t, err)
	require.Contains(t, out, "done", out)
	assert.Contains(t, out, "hello", out)
	screenshot(t, ctx, shots, "deploy-3-rolled-back.png")
	st := a.status()
	require.Len(t, st.Services[0].Tasks, 3)
	for _, task := range st.Services[0].Tasks {
		assert.Equal(t, first, task.Revision, "rolled back to the first revision's task definition: %s", task.ID)
	}
	h := a.deck("history", "hello", "-o", "json")
	require.Equal(t, 0, h.Code, h.String())
	var hist struct {
		Revisions []struct {
			Revision int    `json:"revision"`
			Kind     string `json:"kind"`
			Outcome  string `json:"outcome"`
			Trigger  string `json:"trigger"`
		} `json:"revisions"`
	}
	require.NoError(t, json.Unmarshal([]byte(h.Stdout), &hist))
	require.Len(t, hist.Revisions, 3, h.Stdout)
	assert.Equal(t, "rollback", hist.Revisions[0].Kind)
	assert.Equal(t, "completed", hist.Revisions[0].Outcome)
	assert.Equal(t, "deck console (deck rollback hello)", hist.Revisions[0].Trigger, "the history says where it came from")
	assert.Equal(t, "deck console (deck deploy)", hist.Revisions[1].Trigger)
	assert.Equal(t, "completed", hist.Revisions[1].Outcome)

	asked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('asked')`))
	require.NoError(t, err)
	questions := strings.Split(strings.TrimSpace(asked), "\n")
	require.Len(t, questions, 2, "the page asked before each change: %q", asked)
	assert.Contains(t, questions[0], "Deploy environment")
	assert.Contains(t, questions[1], "Roll hello back")
}

// startConsole starts deck console in the app's folder and returns the URL it prints.
func startConsole(t *testing.T, a *app, args ...string) string {
	t.Helper()
	cmd := exec.Command(deckBin, append([]string{"console"}, args...)...)
	cmd.Dir = a.dir
	cmd.Env = a.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "deck console ends on Ctrl-C with status 0\n%s", stderr.String())
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("deck console did not end within 10s of SIGINT")
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		require.True(t, ok, "deck console printed no URL:\n%s", stderr.String())
		require.True(t, strings.HasPrefix(l, "http://127.0.0.1:"), l)
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("deck console printed no URL within 30s:\n%s", stderr.String())
	}
	return ""
}

// browser starts headless Chromium with a fresh profile.
func browser(t *testing.T, path string) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1400, 1000),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	// The whole browser session is bounded: a page that never shows what is waited for
	// fails the test rather than hanging it.
	ctx, tcancel := context.WithTimeout(ctx, 4*time.Minute)
	require.NoError(t, chromedp.Do(ctx), "starting chromium")
	return ctx, func() { tcancel(); cancel(); acancel() }
}

// screenshotDir is $DECK_SCREENSHOTS, or a new temp dir kept after the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DECK_SCREENSHOTS")
	if dir == "" {
		var err error
		dir, err = os.MkdirTemp("", "deck-console-screenshots-")
		require.NoError(t, err)
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	t.Logf("screenshots: %s", dir)
	return dir
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}
