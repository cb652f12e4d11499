package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/history"
)

// Standalone tasks (deck task run, ECS's RunTask): containers that run to completion on a
// host the planner's placement picks, outside any service's count. Each carries deck's
// labels with kind "task", so the planner leaves it alone and a later command cleans it
// up (CleanTasks).

// TaskRequest asks for standalone tasks. Exactly one of Service, Revision and Image says
// what they run.
type TaskRequest struct {
	// Service runs the task definition of the service's newest completed revision (its
	// image, command, variables and secrets, all on the hosts already), placed by its
	// recorded placement.
	Service string
	// Revision runs this task definition (as Resolve made it from a manifest being
	// deployed); its image is copied to the host if it lacks it, its secrets must be there.
	Revision  *planner.Revision
	Placement manifest.Placement // with Revision or Image (zero: spread)
	// Image runs a plain image, with deck's default cpu and memory.
	Image string
	// Command replaces the command (nil: the task definition's); Env is added to its
	// variables, replacing those of the same name.
	Command []string
	Env     map[string]string
	Count   int // default 1
	// Epoch is stamped on every container (the fencing epoch of a lock held, 0: none);
	// Fence, when set, is asked before every write.
	Epoch uint64
	Fence func() error
	// Now is when deck starts them, by its clock (default time.Now()).
	Now time.Time
}

// RunningTask is a container deck started to run to completion: a standalone task or one
// attempt of a job's run.
type RunningTask struct {
	Host        string
	TaskID      string
	ContainerID string
	Name        string
}

// taskSource is what standalone tasks run and where they may go.
type taskSource struct {
	rev       planner.Revision
	placement manifest.Placement
}

// RunTask starts req.Count standalone tasks and returns them as soon as they run: follow
// them with FollowTask, wait with WaitTask, remove with RemoveTask. A task that fails to
// start is removed, with why in the error (a *executor.TaskFailure); the others are
// returned with it.
func (s *Session) RunTask(ctx context.Context, req TaskRequest) ([]RunningTask, error) {
	if req.Count <= 0 {
		req.Count = 1
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	src, err := s.taskSource(ctx, req)
	if err != nil {
		return nil, err
	}
	hosts, err := s.placeTasks(ctx, src.rev, src.placement, req.Count)
	if err != nil {
		return nil, err
	}
	app, env := s.T.App.Name, s.T.Env.Name
	var out []RunningTask
	var errs []error
	for _, host := range hosts {
		id := newID()
		spec := executor.TaskSpec(executor.TaskInput{App: app, Env: env, Host: host, TaskID: id, Rev: src.rev,
			Epoch: req.Epoch, Kind: providers.KindStandalone, Started: req.Now})
		spec.Name = executor.ContainerName(app, env, orWord(src.rev.Service, "image"), "task-"+id)
		t, err := s.startContainer(ctx, host, spec, req.Fence)
		if err != nil {
			if t.ContainerID != "" {
				err = s.failure(src.rev.Service, host, id, t.ContainerID, err, true)
			}
			errs = append(errs, err)
			continue
		}
		out = append(out, RunningTask{Host: host, TaskID: id, ContainerID: t.ContainerID, Name: spec.Name})
	}
	return out, errors.Join(errs...)
}

// taskSource resolves what a request runs, with its overrides.
func (s *Session) taskSource(ctx context.Context, req TaskRequest) (taskSource, error) {
	var src taskSource
	n := 0
	for _, set := range []bool{req.Service != "", req.Revision != nil, req.Image != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return src, errors.New("a standalone task runs one of a service's task definition, a given revision or an image: name exactly one")
	}
	switch {
	case req.Revision != nil:
		src.rev, src.placement = *req.Revision, req.Placement
	case req.Image != "":
		td := manifest.TaskDef{Image: req.Image, CPU: 256, Memory: 512, StopTimeout: 10 * time.Second}
		src.rev, src.placement = planner.NewRevision("", td), req.Placement
	default:
		entries, err := s.history().List(ctx, req.Service)
		if err != nil {
			return src, fmt.Errorf("reading the revisions of service %s: %w", req.Service, err)
		}
		e, ok := history.LastCompleted(entries, 0)
		if !ok {
			return src, fmt.Errorf("service %s has no completed deploy in environment %s to take its task definition from; deck deploy it first, or run an image with --image", req.Service, s.T.Env.Name)
		}
		src.rev = planner.NewRevision(req.Service, e.Task)
		if recs, err := readDesired(ctx, s); err == nil {
			src.placement = recs[req.Service].State.Placement
		}
	}
	td, err := overridden(src.rev.Task, req.Command, req.Env)
	// A fixed host port is for the service's serving tasks: the standalone task's port,
	// if any, is published on a free one.
	td.HostPort = 0
	src.rev.Task = td // the revision id stays the one it was made from
	return src, err
}

// overridden applies a standalone task's command and variables to a task definition.
func overridden(td manifest.TaskDef, command []string, env map[string]string) (manifest.TaskDef, error) {
	if command != nil {
		td.Command = command
	}
	if len(env) == 0 {
		return td, nil
	}
	td.Variables = maps.Clone(td.Variables)
	if td.Variables == nil {
		td.Variables = map[string]string{}
	}
	for k, v := range env {
		if strings.HasPrefix(k, "DECK_") {
			return td, fmt.Errorf("variable %s: deck sets the DECK_ variables itself; choose another name", k)
		}
		for _, sec := range td.Secrets {
			if sec.Name == k && sec.Type == "" {
				return td, fmt.Errorf("variable %s is a secret of the task; its value comes from the hosts, not from --env", k)
			}
		}
		td.Variables[k] = v
	}
	return td, nil
}

// placeTasks places n tasks of rev, on hosts that hold its secrets (they cannot be made
// without their values, which only a deploy has).
func (s *Session) placeTasks(ctx context.Context, rev planner.Revision, placement manifest.Placement, n int) ([]string, error) {
	exclude, err := s.lackingSecrets(ctx, rev)
	if err != nil {
		return nil, err
	}
	hosts, err := planner.PlaceTasks(s.Snap, rev.Service, placement, rev.Task, n, exclude)
	if errors.Is(err, planner.ErrCapacityUnknown) {
		if err := s.ReadCapacity(ctx); err != nil {
			return nil, err
		}
		hosts, err = planner.PlaceTasks(s.Snap, rev.Service, placement, rev.Task, n, exclude)
	}
	return hosts, err
}

// lackingSecrets names the connected hosts that lack one of rev's secrets.
func (s *Session) lackingSecrets(ctx context.Context, rev planner.Revision) (map[string]bool, error) {
	if len(rev.Task.Secrets) == 0 {
		return nil, nil
	}
	app, env := s.T.App.Name, s.T.Env.Name
	out := map[string]bool{}
	for _, name := range s.Fleet.Names() {
		names, err := s.Fleet.Host(name).ListSecrets(ctx, executor.SecretPrefix(app, env, rev.Service))
		if err != nil {
			out[name] = true
			continue
		}
		have := map[string]bool{}
		for _, n := range names {
			have[n] = true
		}
		for _, sec := range rev.Task.Secrets {
			if !have[executor.SecretName(app, env, rev.Service, sec.Name, sec.Digest)] {
				out[name] = true
			}
		}
	}
	return out, nil
}

// startContainer puts the image on the host, then creates and starts the container,
// asking fence before each write. When the container was created but did not start, the
// returned Task names it, for the caller to read and remove or keep.
func (s *Session) startContainer(ctx context.Context, host string, spec providers.TaskSpec, fenceFn func() error) (providers.Task, error) {
	h := s.Fleet.Host(host)
	if h == nil {
		return providers.Task{}, fmt.Errorf("host %s is not connected (unreachable when the hosts were read)", host)
	}
	check := func() error { return fence(fenceFn) }
	if err := check(); err != nil {
		return providers.Task{}, err
	}
	if err := executor.EnsureImage(ctx, h, spec.Image, s.imageSources(), !strings.HasPrefix(spec.Image, "localhost/"), nil); err != nil {
		return providers.Task{}, &providers.HostError{Host: host, URL: h.Spec().URL, Op: "putting the image on the host", Err: err}
	}
	if err := check(); err != nil {
		return providers.Task{}, err
	}
	t, err := h.Create(ctx, spec)
	if err != nil {
		return providers.Task{}, err
	}
	if err := check(); err != nil {
		return t, err
	}
	started, err := h.Start(ctx, t.ContainerID)
	if err != nil {
		return t, err
	}
	started.Host = host
	return started, nil
}

// imageSources are the connected hosts, an image is copied from.
func (s *Session) imageSources() []providers.Host {
	var out []providers.Host
	for _, n := range s.Fleet.Names() {
		out = append(out, s.Fleet.Host(n))
	}
	return out
}

func newID() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("pipeline: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b[:])
}

func orWord(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}
