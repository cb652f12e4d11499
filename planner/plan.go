// Package planner turns desired services and a snapshot of what runs into a Plan: which
// tasks to keep, create, replace and destroy, on which hosts, in which waves, and why.
// It is pure: no I/O. The Plan is plain data, rendered for humans and as JSON.
package planner

import (
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/lb"
)

// FormatVersion is the version of the Plan's JSON form; a saved plan of another version is
// refused. 2: reasons are typed (a code and its facts), and verify joined the actions.
// 3: load-balancer routes and targets joined the changes. 4: Scheduled Jobs' changes.
// 5: settings, the digest of each service's desired state.
const FormatVersion = 5

// Action is what a change does.
type Action string

const (
	Create  Action = "create"
	Destroy Action = "destroy"
	Replace Action = "replace"
	// Verify waits for a task that an earlier run started, and that deck has not seen
	// healthy, to pass its health check: until it does it counts as starting, never as
	// serving. It fails the deploy (and the task is removed) if it does not.
	Verify Action = "verify"
)

// Actions lists every action, in the order a legend shows them.
var Actions = []Action{Create, Verify, Replace, Destroy}

// Symbol is the one-character mark of the action in the human plan.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Destroy:
		return "-"
	case Replace:
		return "~"
	case Verify:
		return "?"
	}
	return "!"
}

// Kind is what a change acts on: a task, a load-balancer route or target (routes.go). The
// executor refuses a kind it does not know rather than guess.
type Kind string

const KindTask Kind = "task"

// Revision is the rendered, immutable task definition of a service at one deploy.
type Revision struct {
	ID      string           `json:"id"`
	Service string           `json:"service"`
	Task    manifest.TaskDef `json:"task"`
}

// TaskRef names a task that runs now.
type TaskRef struct {
	Host        string `json:"host"`
	TaskID      string `json:"task_id"`
	ContainerID string `json:"container_id"`
	Revision    string `json:"revision"`
	// StopTimeout is the old task's own stop timeout (from its revision), 0 when unknown.
	StopTimeout time.Duration `json:"stop_timeout,omitempty"`
	// Address is where the load balancer reaches it (host address:published port), or "".
	Address string `json:"address,omitempty"`
}

// Change is one thing the executor will do.
type Change struct {
	Action   Action   `json:"action"`
	Kind     Kind     `json:"kind"`
	Service  string   `json:"service"`
	Host     string   `json:"host,omitempty"`     // where the new task goes (create, replace)
	TaskID   string   `json:"task_id,omitempty"`  // the new task's id (create, replace)
	Revision string   `json:"revision,omitempty"` // the new task's revision (create, replace)
	Old      *TaskRef `json:"old,omitempty"`      // the task stopped (destroy, replace)
	// Existing is the container a verify waits on (the task TaskID on Host).
	Existing string `json:"existing,omitempty"`
	// LB is the load balancer a route or target change acts on; Route the route it
	// creates or replaces; Target the address it registers or deregisters.
	LB     string    `json:"lb,omitempty"`
	Route  *lb.Route `json:"route,omitempty"`
	Target string    `json:"target,omitempty"`
	// Was is the route a replace changes, as the balancer holds it: the rollout keeps its
	// settings (a health check path the old tasks answer) until the new tasks serve.
	Was *lb.Route `json:"was,omitempty"`
	// Job is what a job change (KindJob) sets up.
	Job    *JobChange `json:"job,omitempty"`
	Reason Reason     `json:"reason"`
	// Wave orders the work within a service: wave N starts only once wave N-1 is done.
	Wave int `json:"wave"`
	// StopFirst stops Old before the wave's new tasks start (to stay within max percent, or
	// because Old is not running); otherwise Old stops once the wave's new tasks are healthy.
	StopFirst bool `json:"stop_first,omitempty"`
}

// ServicePlan summarises one service's part of the plan.
type ServicePlan struct {
	Name       string                `json:"name"`
	Type       manifest.WorkloadType `json:"type,omitempty"`
	Revision   string                `json:"revision,omitempty"` // the desired revision ("" when deleting)
	Desired    int                   `json:"desired"`
	Running    int                   `json:"running"` // tasks running now
	Keep       int                   `json:"keep"`    // tasks left as they are
	Deployment manifest.Deployment   `json:"deployment"`
	Waves      int                   `json:"waves"`
	Delete     bool                  `json:"delete,omitempty"`
	// HTTP is the service's route and target health check (Load Balanced Web Services).
	HTTP *manifest.HTTP `json:"http,omitempty"`
	// BreakerThreshold is how many failed new tasks stop the rollout (0: no breaker).
	BreakerThreshold int `json:"breaker_threshold,omitempty"`
	// Hold says the service's tasks are left as they are (Desired.Hold): only its route
	// may change.
	Hold bool `json:"hold,omitempty"`
}

// Plan is the full diff between what is desired and what runs.
type Plan struct {
	FormatVersion int                 `json:"format_version"`
	App           string              `json:"app"`
	Env           string              `json:"env"`
	Fingerprint   string              `json:"fingerprint"` // of the snapshot the plan was made from
	Services      []ServicePlan       `json:"services"`
	Changes       []Change            `json:"changes"`
	Revisions     map[string]Revision `json:"revisions"` // revisions the changes create, by id
	// Routes are the routed services' routes as the manifests want them, with the
	// addresses of the tasks that serve now as targets: where the rollout starts from.
	Routes   map[string]lb.Route `json:"routes,omitempty"`
	Warnings []string            `json:"warnings,omitempty"`
	// Settings are a digest, per service, of the desired state the deploy records for the
	// controller (count, scaling, rollout, placement, schedule, route) as the manifests
	// gave it: none of it is in a revision, so a saved plan is refused when it changed.
	Settings map[string]string `json:"settings,omitempty"`
}

// TaskChanges counts the changes that act on tasks.
func (p *Plan) TaskChanges() int {
	n := 0
	for _, c := range p.Changes {
		if c.Kind == KindTask {
			n++
		}
	}
	return n
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Counts returns how many task changes there are of each action.
func (p *Plan) Counts() map[Action]int {
	n := map[Action]int{}
	for _, c := range p.Changes {
		if c.Kind == KindTask {
			n[c.Action]++
		}
	}
	return n
}

// ServiceChanges returns the service's changes of one wave, in plan order.
func (p *Plan) ServiceChanges(service string, wave int) []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Service == service && c.Wave == wave {
			out = append(out, c)
		}
	}
	return out
}
