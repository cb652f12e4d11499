// Package state holds what was observed on an environment's hosts in go-memdb tables
// (hosts, tasks) with named indexes, and hands out read-only snapshots to the planner.
// It is a cache of the truth, rebuilt on every run from the hosts themselves.
package state

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// HostState is one host as observed.
type HostState struct {
	Name string
	// Order is the host's position in the environment's list.
	Order     int
	Spec      manifest.HostSpec
	Reachable bool
	// Err says why the host is unreachable ("" when reachable).
	Err string
	// Capacity is what deck may place on the host: configured or reported, minus reservations.
	Capacity manifest.Resources
	// CapacityKnown is false when the capacity was not read: nothing may be placed there.
	CapacityKnown bool
	// Version is the host's Podman version.
	Version string
}

// Attribute returns the host's attribute and whether it has it.
func (h HostState) Attribute(name string) (string, bool) {
	v, ok := h.Spec.Attributes[name]
	return v, ok
}

// TaskState is one deck container as observed, with its parsed task definition.
type TaskState struct {
	// ID is Host+"/"+ContainerID: container ids are only unique per host.
	ID string
	// Task is the task as listed: the observation's own, shared, never copied into each
	// TaskState (it is most of a task's size, and the planner copies TaskStates around),
	// so it must not be modified. It is never nil in a TaskState read from a snapshot.
	*providers.Task
	// Spec is the task definition from the deck.spec label; nil when missing or unreadable.
	Spec *manifest.TaskDef
	// HostReachable is false when the task was listed from a host that is now unreachable:
	// the task is lost, it may or may not still run.
	HostReachable bool
	// Health is what deck saw when it read the hosts. "" means it was not probed, which
	// the planner treats like starting: a task deck has not seen healthy never serves.
	Health health.State
	// HealthDetail is the probe's own words ("GET /healthz: 503 ...").
	HealthDetail string
	// HostAddress is where the task's host publishes ports (its spec's Address).
	HostAddress string
}

// Serving reports whether the task runs and was seen healthy when the hosts were read.
func (t TaskState) Serving() bool {
	return t.HostReachable && t.Running() && t.Health == health.StateHealthy
}

// TaskHealth is one task's read-time verdict.
type TaskHealth struct {
	State  health.State
	Detail string
}

// TaskID returns the store id of the task key host/containerID.
func TaskID(host, containerID string) string { return host + "/" + containerID }

// Store is the in-memory database of one observation.
type Store struct {
	db          *memdb.MemDB
	app, env    string
	fingerprint string
	balancers   []BalancerState
}

// Load builds a store from an observation and what the read-time probe saw of each
// task's health (nil: nothing was probed). Tasks listed under an unreachable host (a
// provider that remembers the last listing) are kept and marked lost.
func Load(obs *providers.Observation, seen map[string]TaskHealth) (*Store, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("state: schema: %w", err)
	}
	txn := db.Txn(true)
	defer txn.Abort()
	for i, ho := range obs.Hosts {
		if ho.Spec.Name == "" {
			return nil, fmt.Errorf("state: host %d of the observation has no name", i+1)
		}
		hs := &HostState{Name: ho.Spec.Name, Order: i, Spec: ho.Spec, Reachable: ho.Reachable,
			Version: ho.Info.Version}
		hs.Capacity, hs.CapacityKnown = ho.Capacity()
		if ho.Err != nil {
			hs.Err = ho.Err.Error()
		}
		if err := upsertHostTxn(txn, hs); err != nil {
			return nil, err
		}
		for j := range ho.Tasks {
			t := &ho.Tasks[j]
			if t.Host == "" { // the observation is not changed: this task gets a copy
				c := *t
				c.Host = ho.Spec.Name
				t = &c
			}
			ts := &TaskState{ID: TaskID(t.Host, t.ContainerID), Task: t, Spec: t.Meta.Spec,
				HostReachable: ho.Reachable, HostAddress: ho.Spec.Address}
			if h, ok := seen[ts.ID]; ok {
				ts.Health, ts.HealthDetail = h.State, h.Detail
			}
			if err := upsertTaskTxn(txn, ts); err != nil {
				return nil, err
			}
		}
	}
	balancers, err := loadBalancers(txn, obs.Balancers)
	if err != nil {
		return nil, err
	}
	txn.Commit()
	s := &Store{db: db, app: obs.App, env: obs.Env, balancers: balancers}
	s.fingerprint = s.Snapshot().computeFingerprint()
	return s, nil
}

// upsertHostTxn inserts or replaces a host within a write transaction.
func upsertHostTxn(txn *memdb.Txn, h *HostState) error {
	if existing, err := txn.First(TableHosts, IndexID, h.Name); err != nil {
		return fmt.Errorf("state: host %s: %w", h.Name, err)
	} else if existing != nil && existing.(*HostState).Order != h.Order {
		return fmt.Errorf("state: host %s is listed twice", h.Name)
	}
	if err := txn.Insert(TableHosts, h); err != nil {
		return fmt.Errorf("state: host %s: %w", h.Name, err)
	}
	return nil
}

// upsertTaskTxn inserts or replaces a task within a write transaction.
func upsertTaskTxn(txn *memdb.Txn, t *TaskState) error {
	if t.ContainerID == "" {
		return fmt.Errorf("state: a task on host %s has no container id", t.Host)
	}
	if err := txn.Insert(TableTasks, t); err != nil {
		return fmt.Errorf("state: task %s: %w", t.ID, err)
	}
	return nil
}

// Snapshot returns a read-only view of the store.
func (s *Store) Snapshot() *Snapshot {
	return &Snapshot{txn: s.db.Txn(false), app: s.app, env: s.env, fingerprint: s.fingerprint, balancers: s.balancers}
}
