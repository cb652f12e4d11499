package controller

import (
	"fmt"
	"time"

	"github.com/deckhq/deck/pipeline"
)

// A task that passes its health checks and then exits soon after is replaced, passes,
// and exits again: without a pause the controller would replace it every few seconds for
// ever, taking the deploy lock and filling the event log each time. Such exits count as a
// crash loop: the first is replaced at once, each next one after the back-off's delay
// (5s, then twice as long, up to 5 minutes), until the service's tasks have gone
// crashReset without exiting early. The exited container stays meanwhile, with its logs.

// crashWindow is how soon after it started a service's task must exit to count as a crash.
const crashWindow = time.Minute

// crashReset is how long a service goes without a crash before its streak starts over.
const crashReset = 10 * time.Minute

// crashes is each service's streak of early exits.
type crashes struct {
	counted map[string]time.Time // service -> when the newest crash counted ended
	streak  map[string]int
}

func newCrashes() *crashes {
	return &crashes{counted: map[string]time.Time{}, streak: map[string]int{}}
}

// noteCrashes counts the service tasks of the session's last read that exited within
// crashWindow of starting and were not counted yet, and holds each service in a crash loop
// back for the back-off's delay.
func (c *Controller) noteCrashes(s *pipeline.Session) {
	now := c.cfg.Now()
	type crash struct {
		task, detail string
		ended        time.Time
	}
	newest := map[string]crash{}
	for t := range s.Snap.EachTask() {
		if t.Meta.Kind != "" || !t.HostReachable || t.Running() || t.StartedAt.IsZero() || t.FinishedAt.IsZero() {
			continue
		}
		ran := t.FinishedAt.Sub(t.StartedAt)
		if ran < 0 || ran >= crashWindow || !t.FinishedAt.After(c.crash.counted[t.Service]) {
			continue
		}
		if cur, ok := newest[t.Service]; !ok || t.FinishedAt.After(cur.ended) {
			newest[t.Service] = crash{task: t.TaskID, ended: t.FinishedAt,
				detail: fmt.Sprintf("exited with code %d after %s", t.ExitCode, ran.Round(100*time.Millisecond))}
		}
	}
	for svc, cr := range newest {
		if last := c.crash.counted[svc]; !last.IsZero() && cr.ended.Sub(last) >= crashReset {
			c.crash.streak[svc] = 0
		}
		c.crash.counted[svc] = cr.ended
		c.crash.streak[svc]++
		n := c.crash.streak[svc]
		if n < 2 {
			continue // the first early exit is replaced at once
		}
		wait := c.retry.hold(svc, n-1)
		msg := fmt.Sprintf("(service %s) is in a crash loop: its tasks exited within %s of starting %d times in a row (task %s %s); the next replacement starts in %s.",
			svc, crashWindow, n, cr.task, cr.detail, wait.Round(time.Second))
		c.log.Warn(msg, "service", svc, "crashes", n, "retry_in", wait.Round(time.Second).String())
		c.evlog.Add(pipeline.LogEvent{Time: now, Kind: pipeline.KindBackoff, Service: svc, Message: msg})
	}
}
