package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

func at(sec int) time.Time { return time.Date(2024, 5, 1, 12, 0, sec, 0, time.UTC) }

func TestDedupSkipsTheLinesOfTheResumedSecondAlreadyGivenOut(t *testing.T) {
	d := &dedup{}
	first := []providers.LogLine{{Time: at(1), Text: "a"}, {Time: at(2), Text: "tick"}, {Time: at(2), Text: "tick"}, {Time: at(2), Text: "b"}}
	for _, l := range first {
		assert.True(t, d.keep(l), "a first read gives every line: %v", l)
	}
	sec, ok := d.resumeFrom()
	require.True(t, ok)
	assert.Equal(t, at(2), sec, "a read again starts from the newest line's second")
	d.restart()
	// The host sends the second again (and, had since been coarser, older lines too).
	again := []providers.LogLine{{Time: at(1), Text: "a"}, {Time: at(2), Text: "tick"}, {Time: at(2), Text: "tick"},
		{Time: at(2), Text: "b"}, {Time: at(2), Text: "tick"}, {Time: at(3), Text: "tick"}, {Time: at(3), Text: "tick"}}
	var kept []string
	for _, l := range again {
		if d.keep(l) {
			kept = append(kept, fmt.Sprintf("%d %s", l.Time.Second(), l.Text))
		}
	}
	assert.Equal(t, []string{"2 tick", "3 tick", "3 tick"}, kept,
		"the third tick of second 2 is new, the two before it were given out; second 3 is all new")
	d.restart()
	assert.False(t, d.keep(providers.LogLine{Time: at(3), Text: "tick"}))
	assert.False(t, d.keep(providers.LogLine{Time: at(3), Text: "tick"}))
	assert.True(t, d.keep(providers.LogLine{Time: at(3), Text: "tick", Stream: "stderr"}), "the same text on the other stream is another line")
}

func TestMergerGivesLinesInTimeOrderKeepingEachSourcesOrder(t *testing.T) {
	m := newMerger(0)
	lines := map[int][]int{0: {1, 3, 5, 6}, 1: {2, 2, 4, 9}, 2: {0, 7, 3, 8}} // source 2's clock steps back
	for src := range lines {
		m.add(src)
	}
	m.close()
	var wg sync.WaitGroup
	for src, secs := range lines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, s := range secs {
				time.Sleep(time.Duration(src) * time.Millisecond) // the hosts answer at different speeds
				m.push(src, TaskLine{Time: at(s), Task: fmt.Sprint(src), Line: fmt.Sprint(i)})
			}
			m.live(src)
			m.done(src)
		}()
	}
	var got []string
	m.run(context.Background(), func(l TaskLine) {
		got = append(got, fmt.Sprintf("%d:%s@%d", l.Time.Second(), l.Task, mustAtoi(l.Line)))
	})
	wg.Wait()
	assert.Equal(t, []string{"0:2@0", "1:0@0", "2:1@0", "2:1@1", "3:0@1", "4:1@2", "5:0@2", "6:0@3", "7:2@1", "3:2@2", "8:2@3", "9:1@3"}, got,
		"merged by time; source 2's line stamped 3 after one stamped 7 stays after it")
}

func mustAtoi(s string) int {
	var n int
	_, _ = fmt.Sscan(s, &n)
	return n
}

// logRig is a rig whose three hosts share a clock a test moves, running web with a task
// on each host.
func logRig(t *testing.T) (*rig, *fake.Clock, map[string]providers.Task) {
	r := newRig(t, 3)
	clock := fake.NewClock(at(0))
	for _, h := range []string{"h1", "h2", "h3"} {
		r.cloud.Host(h).SetClock(clock.Now)
	}
	_, err := r.deploy(t, webService(3))
	require.NoError(t, err)
	return r, clock, r.tasksByHost(t)
}

func (r *rig) tasksByHost(t *testing.T) map[string]providers.Task {
	out := map[string]providers.Task{}
	for _, h := range []string{"h1", "h2", "h3"} {
		for _, task := range r.cloud.Host(h).Tasks() {
			if task.Running() {
				task.Host = h
				out[h] = task
			}
		}
	}
	require.Len(t, out, 3, "a task on each host")
	return out
}

func render(l TaskLine) string {
	if l.Event != "" {
		return l.Task + " " + l.Host + " " + l.Event + ": " + l.Line
	}
	return l.Task + " " + l.Host + " " + l.Line
}

func TestLogsMergesTheTasksOfEveryHostInTimeOrder(t *testing.T) {
	r, clock, tasks := logRig(t)
	write := func(h, line string) { r.cloud.Host(h).WriteLog(tasks[h].ContainerID, "stdout", line) }
	write("h2", "b1")
	write("h1", "a1")
	clock.Advance(time.Second)
	write("h3", "c1")
	write("h1", "a2")
	clock.Advance(time.Second)
	write("h2", "b2")
	r.cloud.Host("h3").WriteLog(tasks["h3"].ContainerID, "stderr", "c2")

	var times []time.Time
	read := func(req LogsRequest) []string {
		s := r.session(t)
		var got []string
		times = nil
		require.NoError(t, s.Logs(context.Background(), req, func(l TaskLine) {
			got = append(got, l.Host+" "+l.Line)
			times = append(times, l.Time)
		}, func(string) {}))
		return got
	}
	got := read(LogsRequest{Service: "web", Tail: -1})
	assert.ElementsMatch(t, []string{"h1 a1", "h2 b1", "h1 a2", "h3 c1", "h2 b2", "h3 c2"}, got, "every line of every task")
	assert.True(t, sort.SliceIsSorted(times, func(i, j int) bool { return times[i].Before(times[j]) }), "in time order: %v", got)
	assert.Less(t, indexOf(got, "h1 a1"), indexOf(got, "h1 a2"))

	assert.ElementsMatch(t, []string{"h1 a2", "h2 b2", "h3 c2"}, read(LogsRequest{Service: "web", Tail: 1}), "--tail counts per task")
	r.cloud.Host("h1").IgnoresTail = true // as Podman 4.3 may, reading a log whole
	assert.ElementsMatch(t, []string{"h1 a2", "h2 b2", "h3 c2"}, read(LogsRequest{Service: "web", Tail: 1}), "deck keeps the tail itself")
	r.cloud.Host("h1").IgnoresTail = false
	assert.ElementsMatch(t, []string{"h3 c1", "h1 a2", "h2 b2", "h3 c2"}, read(LogsRequest{Service: "web", Tail: -1, Since: at(1)}))
	assert.Equal(t, []string{"h3 c1", "h3 c2"}, read(LogsRequest{Task: tasks["h3"].TaskID[:5], Tail: -1}), "--task takes the start of an id")

	// ToNow: the lines stamped after the read began (a task that keeps writing faster than
	// deck reads) are left out. The hosts' clock is set back to second 0 to stand for them.
	clock.Advance(at(0).Sub(clock.Now()))
	assert.ElementsMatch(t, []string{"h1 a1", "h2 b1"}, read(LogsRequest{Service: "web", Tail: -1, ToNow: true}))
	assert.Len(t, read(LogsRequest{Service: "web", Tail: -1}), 6, "without ToNow, to the end")

	err := r.session(t).Logs(context.Background(), LogsRequest{Service: "api", Tail: -1}, func(TaskLine) {}, func(string) {})
	assert.EqualError(t, err, "service api has no tasks on the reachable hosts; services that have some: web", "a name mistyped: the names there are")
}

func indexOf(lines []string, s string) int {
	for i, l := range lines {
		if l == s {
			return i
		}
	}
	return -1
}

// collector gathers what Logs gives out while it follows.
type collector struct {
	mu    sync.Mutex
	lines []TaskLine
}

func (c *collector) add(l TaskLine) { c.mu.Lock(); c.lines = append(c.lines, l); c.mu.Unlock() }

func (c *collector) rendered() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.lines))
	for i, l := range c.lines {
		out[i] = render(l)
	}
	return out
}

func (c *collector) has(s string) func() bool {
	return func() bool { return indexOf(c.rendered(), s) >= 0 }
}

func TestLogsFollowSpansAReplacementAndAHostGoingAwayWithoutLosingOrRepeatingALine(t *testing.T) {
	r, clock, tasks := logRig(t)
	id := func(h string) string { return tasks[h].TaskID }
	for h, task := range tasks {
		r.cloud.Host(h).WriteLog(task.ContainerID, "stdout", "1", "tick", "tick", "2")
	}
	s := r.session(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &collector{}
	var notes []string
	var notesMu sync.Mutex
	done := make(chan error, 1)
	go func() {
		done <- s.Logs(ctx, LogsRequest{Service: "web", Tail: -1, Follow: true, Hold: 5 * time.Millisecond, Poll: 10 * time.Millisecond},
			c.add, func(n string) { notesMu.Lock(); notes = append(notes, n); notesMu.Unlock() })
	}()
	for h := range tasks {
		require.Eventually(t, c.has(id(h)+" "+h+" 2"), 5*time.Second, 5*time.Millisecond)
	}

	// h2's API goes away in the middle of a second; its task writes on meanwhile, in the
	// same second (one more tick) and the next.
	h2 := r.cloud.Host("h2")
	h2.SetDown(true)
	h2.WriteLog(tasks["h2"].ContainerID, "stdout", "tick", "3")
	require.Eventually(t, func() bool {
		notesMu.Lock()
		defer notesMu.Unlock()
		return len(notes) > 0
	}, 5*time.Second, 5*time.Millisecond, "deck says the host went away")
	clock.Advance(time.Second)
	h2.WriteLog(tasks["h2"].ContainerID, "stdout", "4")
	h2.SetDown(false)
	require.Eventually(t, c.has(id("h2")+" h2 4"), 10*time.Second, 5*time.Millisecond)

	// h1's task dies; a deploy replaces it, and the new task joins.
	require.NoError(t, r.cloud.Host("h1").Die(tasks["h1"].ContainerID, 137))
	require.Eventually(t, c.has(id("h1")+" h1 stopped: the container exited with code 137"), 5*time.Second, 5*time.Millisecond)
	_, err := r.deploy(t, webService(3))
	require.NoError(t, err)
	var fresh providers.Task
	for h, task := range r.tasksByHost(t) {
		if task.TaskID != tasks[h].TaskID {
			fresh = task
		}
	}
	require.NotEmpty(t, fresh.TaskID, "a replacement started")
	r.cloud.Host(fresh.Host).WriteLog(fresh.ContainerID, "stdout", "1")
	require.Eventually(t, c.has(fresh.TaskID+" "+fresh.Host+" 1"), 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	perTask := map[string][]string{}
	for _, l := range c.rendered() {
		task, rest, _ := strings.Cut(l, " ")
		perTask[task] = append(perTask[task], rest)
	}
	assert.Equal(t, []string{"h1 1", "h1 tick", "h1 tick", "h1 2", "h1 stopped: the container exited with code 137"}, perTask[id("h1")])
	assert.Equal(t, []string{"h2 1", "h2 tick", "h2 tick", "h2 2", "h2 tick", "h2 3", "h2 4"}, perTask[id("h2")],
		"h2's lines once each, in order, across its API going away")
	assert.Equal(t, []string{"h3 1", "h3 tick", "h3 tick", "h3 2"}, perTask[id("h3")])
	assert.Equal(t, []string{fresh.Host + " 1"}, perTask[fresh.TaskID])
}

func TestLogsPreviousReadsTheTasksThatStopped(t *testing.T) {
	r, _, tasks := logRig(t)
	r.cloud.Host("h1").WriteLog(tasks["h1"].ContainerID, "stdout", "last words")
	r.cloud.Host("h2").WriteLog(tasks["h2"].ContainerID, "stdout", "still here")
	require.NoError(t, r.cloud.Host("h1").Die(tasks["h1"].ContainerID, 1))
	var got []string
	err := r.session(t).Logs(context.Background(), LogsRequest{Service: "web", Tail: -1, Previous: true},
		func(l TaskLine) { got = append(got, render(l)) }, func(string) {})
	require.NoError(t, err)
	assert.Equal(t, []string{tasks["h1"].TaskID + " h1 last words"}, got, "only the stopped task")
}
