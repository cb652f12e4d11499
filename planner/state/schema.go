package state

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"
)

// Table names.
const (
	TableHosts = "hosts"
	TableTasks = "tasks"
	// TableRoutes holds one RouteState per load balancer and service.
	TableRoutes = "routes"
)

// Index names. Every table has "id"; the others are named for the query they serve.
const (
	IndexID              = "id"
	IndexOrder           = "order"
	IndexReachable       = "reachable"
	IndexService         = "service"
	IndexHost            = "host"
	IndexRevision        = "revision"
	IndexServiceRevision = "service_revision"
)

// The tasks table is indexed by id and service only: every go-memdb index is a radix tree
// with a node, a leaf and their watch channels per task, some 0.5 KB a task, so at 10,000
// tasks each index is ~5 MB of the store, rebuilt on every read of the hosts. The host,
// revision and service_revision indexes served no query of deck's; TasksByHost,
// TasksByRevision and TasksByServiceRevision filter the id or service index instead, and
// give the same tasks in the same order. IndexHost, IndexRevision and
// IndexServiceRevision remain as names for them.

// schema is the whole go-memdb schema: one function per table.
func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		TableHosts:  hostsTableSchema(),
		TableTasks:  tasksTableSchema(),
		TableRoutes: routesTableSchema(),
	}}
}

// hostsTableSchema holds one HostState per host of the environment.
func hostsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableHosts,
		Indexes: map[string]*memdb.IndexSchema{
			// id: Host(name), the host a task or a plan change names.
			IndexID: {
				Name:    IndexID,
				Unique:  true,
				Indexer: &memdb.StringFieldIndex{Field: "Name"},
			},
			// order: Hosts(), in the order the environment lists them, so plans and
			// messages are stable and read like the config.
			IndexOrder: {
				Name:    IndexOrder,
				Unique:  true,
				Indexer: &memdb.IntFieldIndex{Field: "Order"},
			},
			// reachable: ReachableHosts() and UnreachableHosts(), which the planner uses
			// to find lost tasks and the hosts it may place on.
			IndexReachable: {
				Name:    IndexReachable,
				Indexer: &memdb.BoolFieldIndex{Field: "Reachable"},
			},
		},
	}
}

// tasksTableSchema holds one TaskState per deck container seen on a host.
func tasksTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableTasks,
		Indexes: map[string]*memdb.IndexSchema{
			// id: host+"/"+containerID; container ids are only unique per host.
			IndexID: {
				Name:    IndexID,
				Unique:  true,
				Indexer: taskField(func(t *TaskState) string { return t.ID }),
			},
			// service: TasksByService, what the reconciler compares with a service's spec.
			IndexService: {
				Name:         IndexService,
				AllowMissing: true,
				Indexer:      taskField(func(t *TaskState) string { return t.Service }),
			},
		},
	}
}

// routesTableSchema holds one RouteState per load balancer and service of the app.
func routesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableRoutes,
		Indexes: map[string]*memdb.IndexSchema{
			IndexID: {
				Name:    IndexID,
				Unique:  true,
				Indexer: &memdb.StringFieldIndex{Field: "ID"},
			},
			IndexService: {
				Name:    IndexService,
				Indexer: &memdb.StringFieldIndex{Field: "Service"},
			},
		},
	}
}

// taskField indexes a string field of TaskState as memdb.StringFieldIndex does, with the
// same keys (the value and a NUL; no key for ""), but reads the field directly instead
// of looking it up by name through reflect for every task inserted: that lookup was a
// tenth of what loading 10,000 tasks allocated.
type taskField func(*TaskState) string

func (f taskField) FromObject(obj any) (bool, []byte, error) {
	t, ok := obj.(*TaskState)
	if !ok {
		return false, nil, fmt.Errorf("state: %T is not a *TaskState", obj)
	}
	v := f(t)
	if v == "" {
		return false, nil, nil
	}
	return true, append([]byte(v), 0), nil
}

func (f taskField) FromArgs(args ...any) ([]byte, error) {
	return (&memdb.StringFieldIndex{}).FromArgs(args...)
}

func (f taskField) PrefixFromArgs(args ...any) ([]byte, error) {
	return (&memdb.StringFieldIndex{}).PrefixFromArgs(args...)
}
