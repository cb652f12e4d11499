package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logRecord is one line of deck logs --output json.
type logRecord struct {
	Time     time.Time `json:"time"`
	Task     string    `json:"task"`
	Host     string    `json:"host"`
	Service  string    `json:"service"`
	Revision string    `json:"revision"`
	Stream   string    `json:"stream"`
	Line     *string   `json:"line"`
	Event    string    `json:"event"`
	Reason   string    `json:"reason"`
}

func parseLogRecords(t *testing.T, out string) []logRecord {
	t.Helper()
	var recs []logRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r logRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
		recs = append(recs, r)
	}
	return recs
}

// byTask groups the records by task, keeping their order.
func byTask(recs []logRecord) map[string][]logRecord {
	out := map[string][]logRecord{}
	for _, r := range recs {
		out[r.Task] = append(out[r.Task], r)
	}
	return out
}

// checkNumbered checks one task's lines from examples/lines: "line N" for every N from 1
// to the last, each once and in order, a "tick" right before each N divisible by 5 (and
// nowhere else), and no line after an event. It returns the last N.
func checkNumbered(t *testing.T, task string, recs []logRecord) int {
	t.Helper()
	want := 1
	for i, r := range recs {
		if r.Event != "" {
			require.Equal(t, len(recs)-1, i, "task %s: nothing after its %s event", task, r.Event)
			break
		}
		require.NotNil(t, r.Line, "task %s: record %d has a line", task, i)
		switch line := *r.Line; {
		case line == "tick":
			if i+1 < len(recs) && recs[i+1].Line != nil {
				assert.Equal(t, fmt.Sprintf("line %d", want), *recs[i+1].Line, "task %s: a tick comes right before its line", task)
			}
			require.Zero(t, want%5, "task %s: a tick before line %d, which is not a fifth", task, want)
		case line == "bye":
		default:
			require.Equal(t, fmt.Sprintf("line %d", want), line, "task %s: record %d (lines lost or repeated)", task, i)
			if want%5 == 0 && want%35 != 0 { // 35 is on stderr, its tick on stdout: no order between them
				require.Positive(t, i, "task %s", task)
				require.Equal(t, "tick", *recs[i-1].Line, "task %s: line %d has its tick", task, want)
			}
			want++
		}
	}
	return want - 1
}

// completeLines is what was written up to its last newline.
func completeLines(w *lockedWriter) string {
	out := w.String()
	return out[:strings.LastIndexByte(out, '\n')+1]
}

// TestLogsMergedAndFollowedAcrossAReplacementAndAnAPIRestart: examples/lines on 3 hosts
// (h3 over ssh). deck logs gives every numbered line of the 3 tasks exactly once, in time
// order; deck logs --follow keeps going while a task is killed (it leaves with why) and a
// deploy replaces it (the new one joins), and while h2's Podman API restarts: no line of
// any task is lost or repeated.
func TestLogsMergedAndFollowedAcrossAReplacementAndAnAPIRestart(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "lines", hosts)
	r := a.deck("deploy", "--yes")
	require.Equal(t, 0, r.Code, r.String())
	st := a.status()
	require.Len(t, st.Services, 1)
	taskHost := map[string]string{}
	for _, task := range st.Services[0].Tasks {
		taskHost[task.ID] = task.Host
	}
	require.Len(t, taskHost, 3)
	require.ElementsMatch(t, []string{"h1", "h2", "h3"}, values(taskHost), "a task on each host")

	t.Run("merged and complete", func(t *testing.T) {
		r := a.deck("logs", "lines", "--output", "json")
		require.Equal(t, 0, r.Code, r.String())
		recs := parseLogRecords(t, r.Stdout)
		for i := 1; i < len(recs); i++ {
			require.False(t, recs[i].Time.Before(recs[i-1].Time), "record %d is older than the one before it: merged in time order", i)
		}
		tasks := byTask(recs)
		require.Len(t, tasks, 3, r.Stdout)
		for task, rs := range tasks {
			assert.Equal(t, taskHost[task], rs[0].Host)
			assert.Equal(t, "lines", rs[0].Service)
			assert.NotEmpty(t, rs[0].Revision)
			assert.Positive(t, checkNumbered(t, task, rs))
		}
		r = a.deck("logs", "lines", "--tail", "3")
		require.Equal(t, 0, r.Code, r.String())
		assert.Len(t, strings.Split(strings.TrimSpace(r.Stdout), "\n"), 9, "--tail 3 of each of 3 tasks:\n%s", r.Stdout)
		assert.Regexp(t, `(?m)^[0-9a-f]{8} h[123] \| (line \d+|tick)$`, r.Stdout)
	})

	t.Run("follow across a replacement and an API restart", func(t *testing.T) {
		cmd := exec.Command(deckBin, "logs", "lines", "--follow", "--output", "json")
		cmd.Dir, cmd.Env = a.dir, a.env
		stdout, stderr := &lockedWriter{b: new(bytes.Buffer)}, &lockedWriter{b: new(bytes.Buffer)}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		require.NoError(t, cmd.Start())
		defer func() { _ = cmd.Process.Kill() }()
		lastOf := func(task string) int {
			rs := byTask(parseLogRecords(t, completeLines(stdout)))[task]
			n := 0
			for _, r := range rs {
				if r.Line != nil {
					_, _ = fmt.Sscanf(*r.Line, "line %d", &n)
				}
			}
			return n
		}
		grows := func(task string, past int) func() bool { return func() bool { return lastOf(task) > past } }
		for task := range taskHost {
			require.Eventually(t, grows(task, 0), 20*time.Second, 50*time.Millisecond, "task %s's lines come", task)
		}

		killed := podmanKill(t, hosts, "lines", "h1")
		require.Eventually(t, func() bool {
			return strings.Contains(stdout.String(), `"event":"stopped","reason":"the container exited with code 137"`)
		}, 20*time.Second, 50*time.Millisecond, "the killed task leaves with why:\n%s", stderr.String())
		r := a.deck("deploy", "--yes")
		require.Equal(t, 0, r.Code, r.String())
		fresh := ""
		for _, task := range a.status().Services[0].Tasks {
			if _, old := taskHost[task.ID]; !old && task.State == "running" {
				fresh = task.ID
			}
		}
		require.NotEmpty(t, fresh, "the deploy replaced the killed task")
		require.Eventually(t, grows(fresh, 0), 20*time.Second, 50*time.Millisecond, "the new task joins")

		h2task := ""
		for task, h := range taskHost {
			if h == "h2" {
				h2task = task
			}
		}
		require.NoError(t, hosts.Stop(2))
		started := false
		defer func() {
			if !started {
				_ = hosts.Start(2)
			}
		}()
		require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "Host h2 does not answer") },
			20*time.Second, 50*time.Millisecond, stderr.String())
		before := lastOf(h2task)
		require.NoError(t, hosts.Start(2))
		started = true
		require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "Host h2 answers again") },
			20*time.Second, 50*time.Millisecond, stderr.String())
		// It wrote on while its API was down: those lines come, and more after them.
		require.Eventually(t, grows(h2task, before+100), 20*time.Second, 50*time.Millisecond)

		require.NoError(t, cmd.Process.Signal(os.Interrupt))
		require.NoError(t, cmd.Wait(), stderr.String())
		tasks := byTask(parseLogRecords(t, completeLines(stdout)))
		require.Len(t, tasks, 4, "3 tasks and the replacement")
		for task, rs := range tasks {
			checkNumbered(t, task, rs)
		}
		last := tasks[killed.TaskID][len(tasks[killed.TaskID])-1]
		assert.Equal(t, "stopped", last.Event)
		assert.Equal(t, "the container exited with code 137", last.Reason)
	})
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
