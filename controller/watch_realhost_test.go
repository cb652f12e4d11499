package controller

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/podman"
	"github.com/deckhq/deck/testhosts"
)

// WatchHosts against real Podman hosts started by testhosts: h1 over its unix socket (its
// Podman service is restarted) and h2 only over ssh (its link is cut). The hosts start
// with the first test that needs them and stop in TestMain; the unit tests of this
// package never start them.

const realImage = "localhost/deck-controller-test-idle:1"

// realEnv is the app's environment on the real hosts; each test has an app of its own.
const realEnv = "test"

var (
	realOnce  sync.Once
	realHosts *testhosts.Env
	realErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if realHosts != nil {
		if err := realHosts.Down(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// upRealHosts returns the started hosts, with the test image on both. Without Podman it
// skips, or fails with CI=true.
func upRealHosts(t *testing.T) *testhosts.Env {
	t.Helper()
	testhosts.Require(t)
	realOnce.Do(func() { realErr = setUpRealHosts(t) })
	require.NoError(t, realErr, "setting up the test hosts")
	return realHosts
}

func setUpRealHosts(t *testing.T) error {
	start := time.Now()
	var err error
	if realHosts, err = testhosts.Up(2, 2); err != nil {
		return err
	}
	t.Logf("timing: 2 hosts up (h2 over ssh) in %v", time.Since(start))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "idle"), "./testdata/idle")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building testdata/idle: %w\n%s", err, out)
	}
	cf, err := os.ReadFile(filepath.Join("testdata", "Containerfile"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), cf, 0o644); err != nil {
		return err
	}
	specs := realHosts.Specs()
	h1, err := podman.Dialer{}.Dial(ctx, specs[0])
	if err != nil {
		return err
	}
	defer h1.Close()
	h2, err := podman.Dialer{}.Dial(ctx, specs[1])
	if err != nil {
		return err
	}
	defer h2.Close()
	if err := h1.Build(ctx, providers.BuildRequest{Ref: realImage, Context: dir}); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(h1.ExportImage(ctx, realImage, pw)) }()
	err = h2.LoadImage(ctx, pr)
	_ = pr.CloseWithError(errors.New("load ended"))
	return err
}

func realCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// dialReal opens a control connection to a host, closed when the test ends.
func dialReal(t *testing.T, spec manifest.HostSpec) *podman.Host {
	t.Helper()
	h, err := podman.Dialer{}.Dial(realCtx(t), spec)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	return h.(*podman.Host)
}

// runIdle starts an idle task of the app's service web on h, as deck labels its tasks.
func runIdle(t *testing.T, h *podman.Host, app string) providers.Task {
	t.Helper()
	name := uniqueName("idle")
	spec := providers.TaskSpec{Name: name, Image: realImage, StopTimeout: time.Second,
		Labels: providers.EncodeTaskLabels(providers.TaskMeta{App: app, Env: realEnv, Service: "web", TaskID: name}, nil)}
	task, err := h.Create(realCtx(t), spec)
	require.NoError(t, err)
	task, err = h.Start(realCtx(t), task.ContainerID)
	require.NoError(t, err)
	return task
}

// pidOf returns the host process id of a running container, so that a test can kill it
// while the host's API cannot be reached.
func pidOf(t *testing.T, h *podman.Host, id string) int {
	t.Helper()
	data, err := containers.Inspect(h.Connection(), id, nil)
	require.NoError(t, err)
	require.NotZero(t, data.State.Pid)
	return data.State.Pid
}

// waitLogged waits until host i's own event log (hosts.sh points Podman's file logger at
// DIR/hI/events.log) holds action for the container: it happened, whatever the watcher saw.
// The log is a file: it is polled.
func waitLogged(t *testing.T, env *testhosts.Env, i int, id, action string) {
	t.Helper()
	file := filepath.Join(env.Dir, fmt.Sprintf("h%d", i), "events.log")
	want := []byte(`"Status":"` + action + `"`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, line := range bytes.Split(data, []byte("\n")) {
			if bytes.Contains(line, []byte(id)) && bytes.Contains(line, want) {
				return
			}
		}
	}
	t.Fatalf("%s of %s not in %s after 20s", action, id, file)
}

// got is one event the watcher sent, and when it arrived (this machine's clock).
type got struct {
	Event
	at time.Time
}

// watchLog records everything a watcher sends, and lets a test wait for an event.
type watchLog struct {
	mu   sync.Mutex
	evs  []got
	more chan struct{} // closed, and replaced, at each event
}

// watchReal runs controller.WatchHosts on a real host for the app until the test ends.
func watchReal(t *testing.T, spec manifest.HostSpec, app string) *watchLog {
	l := &watchLog{more: make(chan struct{})}
	out := make(chan Event)
	ctx, cancel := context.WithCancel(context.Background())
	watched, recorded := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		WatchHosts(podman.Dialer{}, app, realEnv)(ctx, spec, out)
	}()
	go func() {
		defer close(recorded)
		for {
			select {
			case e := <-out:
				l.mu.Lock()
				l.evs = append(l.evs, got{e, time.Now()})
				close(l.more)
				l.more = make(chan struct{})
				l.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		for _, ch := range []chan struct{}{watched, recorded} {
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				t.Error("the watcher did not return within 10s of its context ending")
			}
		}
	})
	return l
}

// await waits up to within for an event matching, at index from or later, and returns
// its index.
func (l *watchLog) await(t *testing.T, what string, from int, within time.Duration, match func(Event) bool) (int, got) {
	t.Helper()
	deadline := time.After(within)
	for {
		l.mu.Lock()
		for i := from; i < len(l.evs); i++ {
			if match(l.evs[i].Event) {
				e := l.evs[i]
				l.mu.Unlock()
				return i, e
			}
		}
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no %s within %v; the watcher sent: %s", what, within, l)
		}
	}
}

func (l *watchLog) all() []got {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]got(nil), l.evs...)
}

func (l *watchLog) String() string {
	var b strings.Builder
	for _, e := range l.all() {
		id := e.ContainerID
		if len(id) > 12 {
			id = id[:12]
		}
		fmt.Fprintf(&b, "\n  %s %s %s exit=%d", e.at.Format("15:04:05.000"), e.Action, id, e.ExitCode)
	}
	return b.String()
}

func isAction(action string) func(Event) bool {
	return func(e Event) bool { return e.Action == action }
}

func ofContainer(id, action string) func(Event) bool {
	return func(e Event) bool { return e.ContainerID == id && e.Action == action }
}

// hostEvents are the HostUp and HostDown the watcher sent, in order.
func hostEvents(evs []got) []string {
	var out []string
	for _, e := range evs {
		if e.Action == HostUp || e.Action == HostDown {
			out = append(out, e.Action)
		}
	}
	return out
}

// indexes are the positions of the container's events of action.
func indexes(evs []got, id, action string) []int {
	var out []int
	for i, e := range evs {
		if e.ContainerID == id && e.Action == action {
			out = append(out, i)
		}
	}
	return out
}

// TestWatchHostsRealHostServiceRestart restarts h1's Podman service under the watcher:
// it says HostDown, then HostUp, and the deaths of containers stopped before the restart,
// just before it (not waited for: the stream may break before or after delivering it,
// and the resumed stream replays it within its overlap), while the service is down, and
// after it, each arrive exactly once.
func TestWatchHostsRealHostServiceRestart(t *testing.T) {
	env := upRealHosts(t)
	spec := env.Specs()[0]
	ctl := dialReal(t, spec)
	app := uniqueName("app")
	w := watchReal(t, spec, app)
	w.await(t, "HostUp", 0, 10*time.Second, isAction(HostUp))

	before, racing, during, after := runIdle(t, ctl, app), runIdle(t, ctl, app), runIdle(t, ctl, app), runIdle(t, ctl, app)
	for _, task := range []providers.Task{before, racing, during, after} {
		w.await(t, "start of "+task.Name, 0, 10*time.Second, ofContainer(task.ContainerID, "start"))
	}

	stopped := time.Now()
	require.NoError(t, ctl.Stop(realCtx(t), before.ContainerID, 5*time.Second))
	w.await(t, "died of the container stopped before the restart", 0, 10*time.Second, ofContainer(before.ContainerID, "died"))
	t.Logf("timing: podman stop -> died at the watcher (h1, unix) in %v", time.Since(stopped))
	pid := pidOf(t, ctl, during.ContainerID)

	// The racing container dies just before the service stops: its death is logged, and
	// may or may not have reached the watcher when the stream breaks.
	require.NoError(t, ctl.Stop(realCtx(t), racing.ContainerID, 5*time.Second))
	stopping := time.Now()
	require.NoError(t, env.Stop(1))
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.Start(1)
		}
	})
	iDown, down := w.await(t, "HostDown", 0, 10*time.Second, isAction(HostDown))
	t.Logf("timing: service stop begun -> HostDown in %v", down.at.Sub(stopping))
	if assert.False(t, down.LastAnswer.IsZero(), "HostDown says when the host last answered") {
		assert.True(t, down.LastAnswer.Before(down.at), "its last answer (%v) came before HostDown (%v)", down.LastAnswer, down.at)
		// It answered a ping or delivered an event at most a ping period before the stop.
		assert.WithinDuration(t, stopping, down.LastAnswer, pingEvery+500*time.Millisecond, "the last answer, shortly before the stop")
	}

	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL), "a container dies while the service is down")
	waitLogged(t, env, 1, during.ContainerID, "died")

	starting := time.Now()
	require.NoError(t, env.Start(1))
	restarted = true
	started := time.Now()
	iUp, up := w.await(t, "HostUp after the restart", iDown+1, 20*time.Second, isAction(HostUp))
	t.Logf("timing: service start (hosts.sh start %v) -> HostUp in %v after the service answered",
		started.Sub(starting).Round(time.Millisecond), up.at.Sub(started))

	ctl = dialReal(t, spec) // the old connection went with the old service
	require.NoError(t, ctl.Stop(realCtx(t), after.ContainerID, 5*time.Second))
	// The resumed stream replays its overlap before anything new: once the death after the
	// restart is here, any repeat of an earlier event would be too.
	w.await(t, "died of the container stopped after the restart", iUp+1, 10*time.Second, ofContainer(after.ContainerID, "died"))

	evs := w.all()
	t.Logf("the watcher sent:%s", w)
	assert.Equal(t, []string{HostUp, HostDown, HostUp}, hostEvents(evs), "up, down once, up once")
	for _, c := range []struct {
		what string
		task providers.Task
		exit int
	}{{"before", before, 0}, {"just before", racing, 0}, {"during", during, 137}, {"after", after, 0}} {
		deaths := indexes(evs, c.task.ContainerID, "died")
		if !assert.Len(t, deaths, 1, "the death of the container stopped %s the restart, exactly once", c.what) {
			continue
		}
		e := evs[deaths[0]]
		assert.Equal(t, "web", e.Service, c.what)
		assert.Equal(t, c.exit, e.ExitCode, "exit code of the container stopped %s the restart", c.what)
		assert.Equal(t, spec.Name, e.Host, c.what)
		switch c.what {
		case "before":
			assert.Less(t, deaths[0], iDown, "delivered before the stream broke")
		case "just before":
			t.Logf("the death just before the restart came %s the reconnect",
				map[bool]string{true: "before", false: "after"}[deaths[0] < iDown])
		default:
			assert.Greater(t, deaths[0], iUp, "delivered after the host was back")
		}
	}
	// Nothing of the outage's start is repeated: each container's start came once.
	for _, task := range []providers.Task{before, racing, during, after} {
		assert.Len(t, indexes(evs, task.ContainerID, "start"), 1, "one start of %s", task.Name)
	}
	for _, e := range evs[iDown+1 : iUp] {
		t.Errorf("an event between HostDown and HostUp: %s %s", e.Action, e.ContainerID)
	}
}

// TestWatchHostsRealHostPartition cuts h2 (over ssh) off the network under the watcher:
// the stream stays open and quiet, and only the ping can tell. HostDown must come within
// pingEvery+pingTimeout (and a little) of the cut; after the heal HostUp comes, and the
// deaths during the cut and after the heal are delivered, once each.
func TestWatchHostsRealHostPartition(t *testing.T) {
	env := upRealHosts(t)
	spec := env.Specs()[1]
	ctl := dialReal(t, spec)
	app := uniqueName("app")
	w := watchReal(t, spec, app)
	w.await(t, "HostUp", 0, 10*time.Second, isAction(HostUp))
	during, after := runIdle(t, ctl, app), runIdle(t, ctl, app)
	for _, task := range []providers.Task{during, after} {
		w.await(t, "start of "+task.Name, 0, 10*time.Second, ofContainer(task.ContainerID, "start"))
	}
	pid := pidOf(t, ctl, during.ContainerID)

	cutting := time.Now()
	require.NoError(t, env.Partition(2))
	cut := time.Now() // the link is down by now, at the latest
	healed := false
	t.Cleanup(func() {
		if !healed {
			_ = env.Heal(2)
		}
	})
	iDown, down := w.await(t, "HostDown", 0, 15*time.Second, isAction(HostDown))
	noticed := down.at.Sub(cut)
	t.Logf("timing: partition (hosts.sh partition %v) -> HostDown in %v", cut.Sub(cutting).Round(time.Millisecond), noticed)
	assert.LessOrEqual(t, noticed, pingEvery+pingTimeout+time.Second,
		"a ping every %v that may wait %v notices the cut", pingEvery, pingTimeout)
	// The host's last answer (a ping, every pingEvery) came before the cut, and at most a
	// ping period (and a little) before it began.
	t.Logf("timing: last answer %v before the cut began, HostDown %v after it", cutting.Sub(down.LastAnswer), down.at.Sub(down.LastAnswer))
	if assert.False(t, down.LastAnswer.IsZero(), "HostDown says when the host last answered") {
		assert.True(t, down.LastAnswer.Before(cut), "the last answer (%v) came before the cut (done %v)", down.LastAnswer, cut)
		assert.WithinDuration(t, cutting, down.LastAnswer, pingEvery+500*time.Millisecond, "the last ping answered before the cut")
	}

	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL), "a container dies while its host is cut off")
	waitLogged(t, env, 2, during.ContainerID, "died")

	healing := time.Now()
	require.NoError(t, env.Heal(2))
	healed = true
	heal := time.Now()
	iUp, up := w.await(t, "HostUp after the heal", iDown+1, 20*time.Second, isAction(HostUp))
	t.Logf("timing: heal (hosts.sh heal %v) -> HostUp in %v", heal.Sub(healing).Round(time.Millisecond), up.at.Sub(heal))
	// The redial backoff tops out at maxBackoff, and a dial started during the cut may
	// wait dialTimeout.
	assert.LessOrEqual(t, up.at.Sub(heal), maxBackoff+dialTimeout+time.Second, "HostUp soon after the heal")

	ctl = dialReal(t, spec) // the old tunnel was lost with the link
	stopping := time.Now()
	require.NoError(t, ctl.Stop(realCtx(t), after.ContainerID, 5*time.Second))
	w.await(t, "died of the container stopped after the heal", iUp+1, 10*time.Second, ofContainer(after.ContainerID, "died"))
	t.Logf("timing: podman stop -> died at the watcher (h2, ssh, after the heal) in %v", time.Since(stopping))

	evs := w.all()
	t.Logf("the watcher sent:%s", w)
	assert.Equal(t, []string{HostUp, HostDown, HostUp}, hostEvents(evs), "up, down once, up once")
	for _, c := range []struct {
		what string
		task providers.Task
		exit int
	}{{"during the cut", during, 137}, {"after the heal", after, 0}} {
		deaths := indexes(evs, c.task.ContainerID, "died")
		if assert.Len(t, deaths, 1, "the death of the container stopped %s, exactly once", c.what) {
			assert.Greater(t, deaths[0], iUp, "%s: delivered after HostUp", c.what)
			assert.Equal(t, c.exit, evs[deaths[0]].ExitCode, c.what)
			assert.Equal(t, "web", evs[deaths[0]].Service, c.what)
		}
	}
	for _, task := range []providers.Task{during, after} {
		assert.Len(t, indexes(evs, task.ContainerID, "start"), 1, "one start of %s", task.Name)
	}
	for _, e := range evs[iDown+1 : iUp] {
		t.Errorf("an event between HostDown and HostUp: %s %s", e.Action, e.ContainerID)
	}
}
