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

// The tasks table has one index, id, keyed by service and then task id: every go-memdb
// index is a radix tree with a node, a leaf and their watch channels per task, some 0.5 KB
// a task, rebuilt on every read of the hosts, so at 10,000 tasks each index is ~5 MB of the
// store (and the controller's memory at 10,000 tasks is a target). The reconciler's query,
// a service's tasks, is a prefix of that key; the rest (a task by id, by host, by revision)
// served no hot path and filter it. IndexService, IndexHost, IndexRevision and
// IndexServiceRevision remain as names for those queries.

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
			// id: the service, then the task's id (host+"/"+containerID: container ids are
			// only unique per host). Tasks and EachTask come in this order; TasksByService
			// and EachTaskOf are the prefix of one service, what the reconciler compares
			// with the service's spec.
			IndexID: {
				Name:    IndexID,
				Unique:  true,
				Indexer: taskKey{},
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

// taskKey is the tasks' id index: service NUL id NUL. Its fields are read directly rather
// than looked up by name through reflect for every task inserted, as memdb's field
// indexers do: that lookup was a tenth of what loading 10,000 tasks allocated.
type taskKey struct{}

func (taskKey) FromObject(obj any) (bool, []byte, error) {
	t, ok := obj.(*TaskState)
	if !ok {
		return false, nil, fmt.Errorf("state: %T is not a *TaskState", obj)
	}
	if t.ID == "" {
		return false, nil, nil
	}
	key := make([]byte, 0, len(t.Service)+len(t.ID)+2)
	key = append(append(key, t.Service...), 0)
	return true, append(append(key, t.ID...), 0), nil
}

// FromArgs takes the service and the task id.
func (taskKey) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("state: the tasks' id index takes a service and a task id, not %d values", len(args))
	}
	svc, ok1 := args[0].(string)
	id, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("state: the tasks' id index takes strings, not %T and %T", args[0], args[1])
	}
	return []byte(svc + "\x00" + id + "\x00"), nil
}

// PrefixFromArgs takes a service: the key prefix of all its tasks.
func (taskKey) PrefixFromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("state: a prefix of the tasks' id index is a service, not %d values", len(args))
	}
	svc, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("state: a service is a string, not %T", args[0])
	}
	return []byte(svc + "\x00"), nil
}
