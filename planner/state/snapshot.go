package state

import (
	"iter"

	memdb "github.com/hashicorp/go-memdb"
)

// Snapshot is a read-only view of a Store. Values read from it share the listed task
// (TaskState.Task), maps and the parsed spec with the store and the observation it was
// loaded from: callers must not modify them.
type Snapshot struct {
	txn         *memdb.Txn
	app, env    string
	fingerprint string
	balancers   []BalancerState
}

// App is the app the observation was made for.
func (s *Snapshot) App() string { return s.app }

// Env is the environment the observation was made for.
func (s *Snapshot) Env() string { return s.env }

// Fingerprint is a short digest of what a plan's apply depends on (see computeFingerprint).
func (s *Snapshot) Fingerprint() string { return s.fingerprint }

// Hosts returns every host, in the order the environment lists them.
func (s *Snapshot) Hosts() []HostState {
	return s.hosts(IndexOrder)
}

// ReachableHosts returns the hosts that answered, in environment order.
func (s *Snapshot) ReachableHosts() []HostState { return s.hostsReachable(true) }

// UnreachableHosts returns the hosts that did not answer, in environment order.
func (s *Snapshot) UnreachableHosts() []HostState { return s.hostsReachable(false) }

func (s *Snapshot) hostsReachable(reachable bool) []HostState {
	it, err := s.txn.Get(TableHosts, IndexReachable, reachable)
	if err != nil {
		panic("state: " + err.Error()) // the schema is fixed: an error is a programming error
	}
	var out []HostState
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, *raw.(*HostState))
	}
	sortHosts(out)
	return out
}

func (s *Snapshot) hosts(index string) []HostState {
	it, err := s.txn.Get(TableHosts, index)
	if err != nil {
		panic("state: " + err.Error())
	}
	var out []HostState
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, *raw.(*HostState))
	}
	return out
}

// Host returns the named host.
func (s *Snapshot) Host(name string) (HostState, bool) {
	raw, err := s.txn.First(TableHosts, IndexID, name)
	if err != nil {
		panic("state: " + err.Error())
	}
	if raw == nil {
		return HostState{}, false
	}
	return *raw.(*HostState), true
}

// Task returns the task with store id host/containerID.
func (s *Snapshot) Task(id string) (TaskState, bool) {
	for t := range s.eachRaw(IndexID) {
		if t.ID == id {
			return *t, true
		}
	}
	return TaskState{}, false
}

// Tasks returns every task, sorted by service, then id (host, then container id).
func (s *Snapshot) Tasks() []TaskState { return s.tasks(IndexID) }

// TasksByService returns the service's tasks, sorted by id.
func (s *Snapshot) TasksByService(service string) []TaskState {
	return s.tasks(indexIDPrefix, service)
}

// TasksByHost returns the tasks on a host, sorted by service, then id.
func (s *Snapshot) TasksByHost(host string) []TaskState {
	if host == "" {
		return nil // as the index it was: a task with no value is not under ""
	}
	return s.filterTasks(IndexID, nil, func(t *TaskState) bool { return t.Host == host })
}

// TasksByRevision returns the tasks of a revision, sorted by service, then id.
func (s *Snapshot) TasksByRevision(revision string) []TaskState {
	if revision == "" {
		return nil
	}
	return s.filterTasks(IndexID, nil, func(t *TaskState) bool { return t.Revision == revision })
}

// TasksByServiceRevision returns the tasks of one revision of a service, sorted by id.
func (s *Snapshot) TasksByServiceRevision(service, revision string) []TaskState {
	if service == "" || revision == "" {
		return nil
	}
	return s.filterTasks(indexIDPrefix, []any{service}, func(t *TaskState) bool { return t.Revision == revision })
}

// indexIDPrefix looks up the id index by a prefix: a service's tasks.
const indexIDPrefix = IndexID + "_prefix"

// filterTasks copies the tasks of an index (sorted by id within a value) that keep says to.
func (s *Snapshot) filterTasks(index string, args []any, keep func(*TaskState) bool) []TaskState {
	var out []TaskState
	for t := range s.eachRaw(index, args...) {
		if keep(t) {
			out = append(out, *t)
		}
	}
	return out
}

// EachTask yields every task, sorted by service then id, as Tasks returns them but without copying them
// all into a slice first: a reader that only looks at each task in turn (counts, filters,
// digests) allocates nothing for them, which matters at thousands of tasks per read.
func (s *Snapshot) EachTask() iter.Seq[TaskState] { return s.eachTask(IndexID) }

// EachTaskOf yields the service's tasks, sorted by id, as TasksByService without the copy.
func (s *Snapshot) EachTaskOf(service string) iter.Seq[TaskState] {
	return s.eachTask(indexIDPrefix, service)
}

func (s *Snapshot) eachTask(index string, args ...any) iter.Seq[TaskState] {
	return func(yield func(TaskState) bool) {
		for t := range s.eachRaw(index, args...) {
			if !yield(*t) {
				return
			}
		}
	}
}

func (s *Snapshot) tasks(index string, args ...any) []TaskState {
	// Counted first, so the copies are made once into a slice of the right size rather
	// than into ever larger ones (a TaskState is half a kilobyte).
	n := 0
	for range s.eachRaw(index, args...) {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]TaskState, 0, n)
	for t := range s.eachRaw(index, args...) {
		out = append(out, *t)
	}
	// The id index's keys are service, then id: a service's tasks come sorted by id.
	return out
}

// eachRaw yields the stored tasks themselves; they must not be modified.
func (s *Snapshot) eachRaw(index string, args ...any) iter.Seq[*TaskState] {
	return func(yield func(*TaskState) bool) {
		it, err := s.txn.Get(TableTasks, index, args...)
		if err != nil {
			panic("state: " + err.Error())
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if !yield(raw.(*TaskState)) {
				return
			}
		}
	}
}

// Services returns the names of the services that have tasks, sorted.
func (s *Snapshot) Services() []string {
	it, err := s.txn.Get(TableTasks, IndexID)
	if err != nil {
		panic("state: " + err.Error())
	}
	var out []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		name := raw.(*TaskState).Service
		if name != "" && (len(out) == 0 || out[len(out)-1] != name) {
			out = append(out, name)
		}
	}
	return out
}
