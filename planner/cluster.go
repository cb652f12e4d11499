package planner

import (
	"iter"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
)

// cluster is the planner's running account of the hosts while it plans: what each host
// has free once the tasks that run, the tasks placed so far and the tasks stopped so far
// are counted. Services are planned one after another against the same account, in the
// order the executor applies them.
type cluster struct {
	hosts  []state.HostState // environment order
	free   []manifest.Resources
	ports  []map[int]int // host port -> tasks binding it; nil until a port is bound
	byName map[string]int
	// capacityWanted is set when a placement considered a host whose capacity is unknown.
	capacityWanted bool
}

func newCluster(hosts []state.HostState, tasks iter.Seq[state.TaskState]) *cluster {
	c := &cluster{hosts: hosts, free: make([]manifest.Resources, len(hosts)),
		ports: make([]map[int]int, len(hosts)), byName: make(map[string]int, len(hosts))}
	for i, h := range hosts {
		c.free[i] = h.Capacity
		c.byName[h.Name] = i
	}
	for t := range tasks {
		if i, ok := c.byName[t.Host]; ok && t.Running() && t.HostReachable {
			c.take(i, taskResources(t), boundPorts(t))
		}
	}
	return c
}

// taskResources is what a task reserves: its spec's cpu and memory (nothing is known of
// a task without a readable spec).
func taskResources(t state.TaskState) manifest.Resources {
	if t.Spec == nil {
		return manifest.Resources{}
	}
	return manifest.Resources{CPU: t.Spec.CPU, Memory: t.Spec.Memory}
}

func boundPorts(t state.TaskState) []int {
	var out []int
	for _, p := range t.Ports {
		if p.HostPort != 0 {
			out = append(out, p.HostPort)
		}
	}
	return out
}

func (c *cluster) take(i int, r manifest.Resources, ports []int) {
	c.free[i].CPU -= r.CPU
	c.free[i].Memory -= r.Memory
	for _, p := range ports {
		if c.ports[i] == nil {
			c.ports[i] = map[int]int{}
		}
		c.ports[i][p]++
	}
}

func (c *cluster) release(i int, r manifest.Resources, ports []int) {
	c.free[i].CPU += r.CPU
	c.free[i].Memory += r.Memory
	for _, p := range ports {
		if c.ports[i][p] <= 1 {
			delete(c.ports[i], p)
		} else {
			c.ports[i][p]--
		}
	}
}

// releaseTask gives back what a running task held once the plan stops it.
func (c *cluster) releaseTask(t state.TaskState) (int, bool) {
	i, ok := c.byName[t.Host]
	if !ok || !t.Running() || !t.HostReachable {
		return 0, false
	}
	c.release(i, taskResources(t), boundPorts(t))
	return i, true
}

func (c *cluster) portUsed(i, port int) bool { return port != 0 && c.ports[i][port] > 0 }
