package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deckhq/deck/providers"
)

// retryAfter is how long a task's reader waits before reading again after a read broke
// and before asking a host that did not answer again.
const retryAfter = 500 * time.Millisecond

// stream reads one task's log into the merger as source src: its backlog (first), then,
// when following, on from the newest line's second until the task stops or is removed,
// again after every break (a host's API restarting, a connection dialled again), giving
// no line twice (dedup).
func (f *logFollower) stream(ctx context.Context, t providers.Task, src int, first providers.LogOptions) {
	d := &dedup{}
	push := func(l TaskLine) { f.m.push(src, l) }
	var tail []TaskLine
	if !f.req.Follow && first.Tail >= 0 {
		// Podman 4.3 can give more than the tail asked (a log it reads whole when it meets
		// a line still being written): the last lines are kept here, and given once read.
		push = func(l TaskLine) {
			if tail = append(tail, l); len(tail) > first.Tail {
				tail = tail[1:]
			}
		}
	}
	read := func(o providers.LogOptions) error {
		h := f.s.Fleet.Host(t.Host)
		if h == nil {
			return fmt.Errorf("host %s: %w: not connected", t.Host, providers.ErrUnreachable)
		}
		return h.StreamLogs(ctx, t.ContainerID, o, func(l providers.LogLine) {
			if d.keep(l) {
				push(taskLine(t, l))
			}
		})
	}
	// A follow that starts with no line read yet starts where the backlog ended: by the
	// host's clock with --tail 0, else from Since (a task that had written nothing).
	empty := first.Since
	if f.req.Follow && first.Tail == 0 {
		if h := f.s.Fleet.Host(t.Host); h != nil {
			if now, err := h.Now(ctx); err == nil {
				empty = now
			}
		}
	}
	err := read(first)
	for _, l := range tail {
		f.m.push(src, l)
	}
	f.m.live(src)
	if !f.req.Follow {
		if err != nil && ctx.Err() == nil {
			f.note(fmt.Sprintf("Warning: the lines of task %s on %s could not be read: %v", t.TaskID, t.Host, err))
		}
		return
	}
	for ctx.Err() == nil {
		if err != nil {
			Pause(ctx, retryAfter)
		}
		now, ierr := f.inspect(ctx, t)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(ierr, providers.ErrNotFound):
			f.m.push(src, TaskLine{Time: time.Now(), Task: t.TaskID, Host: t.Host, Service: t.Service,
				Revision: t.Revision, Event: "removed", Line: "the task was removed"})
			return
		case ierr != nil:
			err = ierr // the host does not answer: ask again
			continue
		}
		o := providers.LogOptions{Follow: now.Running(), Since: empty, Tail: -1}
		if sec, ok := d.resumeFrom(); ok {
			o.Since = sec
		}
		d.restart()
		began := time.Now()
		err = read(o)
		if err == nil && !o.Follow {
			f.m.push(src, stopped(t, now))
			return
		}
		if err == nil && time.Since(began) < retryAfter {
			Pause(ctx, retryAfter) // a follow that ended at once: do not spin while the task stops
		}
	}
}

// inspect reads the task's container, within the host timeout.
func (f *logFollower) inspect(ctx context.Context, t providers.Task) (providers.Task, error) {
	h := f.s.Fleet.Host(t.Host)
	if h == nil {
		return providers.Task{}, fmt.Errorf("host %s: %w: not connected", t.Host, providers.ErrUnreachable)
	}
	ictx, cancel := context.WithTimeout(ctx, f.s.T.HostTimeout)
	defer cancel()
	return h.Inspect(ictx, t.ContainerID)
}

// stopped is the event that ends a task's lines: why it stopped, as deck status says.
func stopped(t, now providers.Task) TaskLine {
	why := StopReason(now)
	if why == "" {
		why = fmt.Sprintf("the container exited with code %d", now.ExitCode)
	}
	at := now.FinishedAt
	if at.IsZero() {
		at = time.Now()
	}
	return TaskLine{Time: at, Task: t.TaskID, Host: t.Host, Service: t.Service, Revision: t.Revision,
		Event: "stopped", Line: why}
}

// watchHosts lists the hosts every Poll while following: the tasks that start join, hosts
// that stopped answering are dialled again, and note says when a host goes and comes back.
func (f *logFollower) watchHosts(ctx context.Context) {
	defer f.wg.Done()
	reachable := map[string]bool{}
	for _, h := range f.s.Obs.Hosts {
		reachable[h.Spec.Name] = h.Reachable
	}
	joined := providers.LogOptions{Since: f.req.Since, Tail: -1} // a new task's lines, from its first
	for Pause(ctx, f.req.Poll) {
		providers.Redial(ctx, f.s.T.Dialer, f.s.Fleet, f.s.Obs, nil)
		providers.ListTasks(ctx, f.s.Fleet, f.s.Obs)
		for _, h := range f.s.Obs.Hosts {
			name := h.Spec.Name
			switch {
			case ctx.Err() != nil:
				return
			case h.Reachable && !reachable[name]:
				f.note(fmt.Sprintf("Host %s answers again; reading its tasks' lines on.", name))
			case !h.Reachable && reachable[name]:
				f.note(fmt.Sprintf("Host %s does not answer (%v); its tasks' lines resume when it does.", name, h.Err))
			}
			reachable[name] = h.Reachable
		}
		for _, t := range f.s.logTasks(f.req, "") {
			f.start(ctx, t, joined)
		}
	}
}
