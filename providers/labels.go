package providers

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/deckhq/deck/manifest"
)

// Labels are deck's only database: every container deck creates carries them, and deck
// rebuilds everything it knows from them. This file is their one codec: EncodeTaskLabels
// writes them and TaskFromLabels reads them; nothing else looks at deck.* labels.
const (
	LabelManaged  = "deck.managed" // "true"
	LabelSchema   = "deck.schema"  // the layout version of these labels (LabelSchemaVersion)
	LabelApp      = "deck.app"
	LabelEnv      = "deck.env"
	LabelService  = "deck.service"
	LabelRevision = "deck.revision"
	LabelTask     = "deck.task"
	LabelSpec     = "deck.spec"    // JSON of the revision's manifest.TaskDef (secret digests only)
	LabelPort     = "deck.port"    // the container port the service listens on
	LabelEpoch    = "deck.epoch"   // the fencing epoch of the deploy lock held by the deploy that created it
	LabelDesired  = "deck.desired" // JSON of the service's DesiredState when the task was created
	// LabelReplaces names the task a task was started in place of while that one could not
	// be stopped (its host was unreachable): when that host returns, its task is stale.
	LabelReplaces = "deck.replaces"
	// LabelKind says what a container is when it is not one of a service's tasks
	// (KindJobRun, KindStandalone); the planner counts only those without it.
	LabelKind = "deck.kind"
	// A job run's container also carries its run id, attempt number (1, 2, ... as it is
	// retried), what started it, and when deck started it (RFC 3339, deck's clock): the
	// schedule and the timeout count from there.
	LabelRun     = "deck.run"
	LabelAttempt = "deck.attempt"
	LabelTrigger = "deck.trigger"
	LabelStarted = "deck.started"
)

// Kinds of container besides a service's tasks (LabelKind).
const (
	KindJobRun     = "run"  // one attempt of a Scheduled Job's run
	KindStandalone = "task" // a standalone task (deck task run)
)

// LabelSchemaVersion is the version of the label layout this deck writes. Containers
// created before versioning carry no deck.schema label and read as version 0; their
// labels are a subset of version 1's, so they decode the same.
const LabelSchemaVersion = 1

// TaskMeta is what a task's labels say about it.
type TaskMeta struct {
	Schema   int
	App      string
	Env      string
	Service  string
	Revision string
	TaskID   string
	Port     int    // the container port the service listens on; 0 = none
	Epoch    uint64 // 0 when created without a lock (before locking existed)
	// Spec is the revision's task definition; nil when missing or unreadable (a container
	// made by hand, or edited).
	Spec *manifest.TaskDef
	// Desired is the service's desired state as of the deploy that created the task; nil
	// when missing. The newest record (see DesiredRecord) wins over it.
	Desired *DesiredState
	// Replaces is the id of the task this one was started in place of ("" if none).
	Replaces string
	// Kind is "" for a service's task, else KindJobRun or KindStandalone; Run, Attempt,
	// Trigger and Started describe a job run (Started is set on standalone tasks too).
	Kind    string
	Run     string
	Attempt int
	Trigger string
	Started time.Time
}

// DesiredState is what a service should be, beyond its task definition: how many tasks,
// how to roll them out, where to place them, when to run them. A controller rebuilds what
// should run from it and the task definition alone, without the manifests. Changing it
// never changes the revision.
type DesiredState struct {
	Type       manifest.WorkloadType `json:"type"`
	Count      manifest.Count        `json:"count"`
	Deployment manifest.Deployment   `json:"deployment"`
	Placement  manifest.Placement    `json:"placement"`
	Schedule   string                `json:"schedule,omitempty"`
	// HTTP is the service's route on the load balancers (nil: not routed).
	HTTP *manifest.HTTP `json:"http,omitempty"`
	// Retries, Timeout and Concurrency are a Scheduled Job's run settings.
	Retries     int           `json:"retries,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	Concurrency int           `json:"concurrency,omitempty"`
}

// DesiredStateOf extracts a service's desired state from its spec.
func DesiredStateOf(s manifest.ServiceSpec) DesiredState {
	return DesiredState{Type: s.Type, Count: s.Count, Deployment: s.Deployment, Placement: s.Placement, Schedule: s.Schedule, HTTP: s.HTTP,
		Retries: s.Retries, Timeout: s.Timeout, Concurrency: s.Concurrency}
}

// EncodeTaskLabels returns the labels of a task's container: the user's labels (from the
// task definition) and deck's own, which win.
func EncodeTaskLabels(m TaskMeta, user map[string]string) map[string]string {
	l := make(map[string]string, len(user)+11)
	for k, v := range user {
		l[k] = v
	}
	l[LabelManaged] = "true"
	l[LabelSchema] = strconv.Itoa(LabelSchemaVersion)
	l[LabelApp] = m.App
	l[LabelEnv] = m.Env
	l[LabelService] = m.Service
	l[LabelRevision] = m.Revision
	l[LabelTask] = m.TaskID
	if m.Spec != nil {
		l[LabelSpec] = mustJSON(m.Spec)
	}
	if m.Port != 0 {
		l[LabelPort] = strconv.Itoa(m.Port)
	}
	if m.Epoch != 0 {
		l[LabelEpoch] = strconv.FormatUint(m.Epoch, 10)
	}
	if m.Desired != nil {
		l[LabelDesired] = mustJSON(m.Desired)
	}
	if m.Replaces != "" {
		l[LabelReplaces] = m.Replaces
	}
	encodeRun(l, m)
	return l
}

// DecodeTaskLabels reads deck's labels. Missing or unreadable values are left zero: a
// label edited by hand must not stop deck from seeing the rest of the fleet.
func DecodeTaskLabels(l map[string]string) TaskMeta {
	m := TaskMeta{
		App: l[LabelApp], Env: l[LabelEnv], Service: l[LabelService],
		Revision: l[LabelRevision], TaskID: l[LabelTask], Replaces: l[LabelReplaces],
		Kind: l[LabelKind], Run: l[LabelRun], Trigger: l[LabelTrigger],
	}
	m.Attempt, _ = strconv.Atoi(l[LabelAttempt])
	m.Started, _ = time.Parse(time.RFC3339Nano, l[LabelStarted])
	m.Schema, _ = strconv.Atoi(l[LabelSchema])
	m.Port, _ = strconv.Atoi(l[LabelPort])
	m.Epoch, _ = strconv.ParseUint(l[LabelEpoch], 10, 64)
	if raw := l[LabelSpec]; raw != "" {
		var td manifest.TaskDef
		if json.Unmarshal([]byte(raw), &td) == nil {
			m.Spec = &td
		}
	}
	if raw := l[LabelDesired]; raw != "" {
		var d DesiredState
		if json.Unmarshal([]byte(raw), &d) == nil {
			m.Desired = &d
		}
	}
	return m
}

// IsManaged reports whether labels are a deck container's.
func IsManaged(l map[string]string) bool { return l[LabelManaged] == "true" }

// EventFromLabels starts an Event from a container's labels. It reads only the plain
// labels (not the JSON spec and desired state): events come often.
func EventFromLabels(l map[string]string) Event {
	return Event{App: l[LabelApp], Env: l[LabelEnv], Service: l[LabelService], Revision: l[LabelRevision],
		TaskID: l[LabelTask], Labels: l}
}

// Matches reports whether labels are a deck container's of app and env (each only when
// non-empty), as the Events and List filters select them.
func Matches(l map[string]string, app, env string) bool {
	return IsManaged(l) && (app == "" || l[LabelApp] == app) && (env == "" || l[LabelEnv] == env)
}

// TaskFromLabels starts a Task from a container's labels; the provider fills in what
// the container itself says (id, name, state, ports).
func TaskFromLabels(l map[string]string) Task {
	m := DecodeTaskLabels(l)
	return Task{App: m.App, Env: m.Env, Service: m.Service, Revision: m.Revision, TaskID: m.TaskID,
		Meta: m, Labels: l}
}

// encodeRun writes the labels of a job run or a standalone task.
func encodeRun(l map[string]string, m TaskMeta) {
	set := func(k, v string) {
		if v != "" {
			l[k] = v
		}
	}
	set(LabelKind, m.Kind)
	set(LabelRun, m.Run)
	set(LabelTrigger, m.Trigger)
	if m.Attempt > 0 {
		l[LabelAttempt] = strconv.Itoa(m.Attempt)
	}
	if !m.Started.IsZero() {
		l[LabelStarted] = m.Started.UTC().Format(time.RFC3339Nano)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("providers: label value does not marshal: " + err.Error()) // plain data always does
	}
	return string(b)
}
