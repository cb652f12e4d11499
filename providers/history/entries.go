package history

import (
	"time"

	"github.com/deckhq/deck/manifest"
)

// Revision is one immutable, numbered revision of a service: what a deploy (or a
// rollback) put in place. Its JSON is the record's stored form: fields may be added,
// never renamed.
type Revision struct {
	Service string `json:"service"`
	Number  int    `json:"number"`
	ID      string `json:"id"` // the planner's revision id (a digest of Service and Task)
	// Task is the rendered task definition: the image ref resolved, secrets as digests.
	Task    manifest.TaskDef `json:"task"`
	ImageID string           `json:"image_id,omitempty"` // the image's id on the hosts, when known
	Kind    string           `json:"kind"`               // KindDeploy or KindRollback
	// RollbackOf is, for a rollback, the number of the revision it returned to.
	RollbackOf int `json:"rollback_of,omitempty"`
	Meta
	Started time.Time `json:"started"` // by a host's clock (Records.Now)
}

// Kinds of revision.
const (
	KindDeploy   = "deploy"
	KindRollback = "rollback"
)

// Outcome is how a revision's deploy ended.
type Outcome string

const (
	InProgress Outcome = "in progress" // no outcome recorded (yet: or the deploy was killed)
	Completed  Outcome = "completed"
	RolledBack Outcome = "rolled back"
	Failed     Outcome = "failed"
)

// Entry is a revision with its outcome.
type Entry struct {
	Revision
	Outcome Outcome
	// Detail says why, e.g. "circuit breaker: 3 of 6 tasks failed; rolled back to 2".
	Detail   string
	Finished time.Time // zero while InProgress
}

// LastCompleted returns the newest Completed entry numbered below before (any, when
// before <= 0): what a rollback returns to. Entries are as List returns them.
func LastCompleted(entries []Entry, before int) (Entry, bool) {
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Outcome == Completed && (before <= 0 || e.Number < before) {
			return e, true
		}
	}
	return Entry{}, false
}

// KeepImages returns the image refs to keep of one service's entries (as List returns
// them): those of the newest n revisions, of every revision in progress, and of the
// newest completed one, which a rollback needs even when n newer ones failed.
func KeepImages(entries []Entry, n int) []string {
	var refs []string
	seen := map[string]bool{}
	add := func(e Entry) {
		if ref := e.Task.Image; ref != "" && !seen[ref] {
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if len(entries)-i <= n || entries[i].Outcome == InProgress {
			add(entries[i])
		}
	}
	if e, ok := LastCompleted(entries, 0); ok {
		add(e)
	}
	return refs
}
