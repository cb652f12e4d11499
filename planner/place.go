package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
)

// placer places the new tasks of one service: hosts are filtered once for what cannot
// change during the plan (reachability, attribute constraints), then ranked in a
// rankTree; what changes as tasks are placed and stopped (free cpu and memory, fixed
// host ports, distinct_host) is checked on the best host only, which leaves the tree
// while it does not fit.
type placer struct {
	c        *cluster
	service  string
	need     manifest.Resources
	hostPort int
	distinct bool
	spec     manifest.Placement
	tree     *rankTree
	cands    []*candidate // by cluster slot; nil for hosts filtered out
	counts   []int        // tasks of the service per slot, kept and placed (every host)

	// avoided are the slots of hosts where a task of the service is being replaced
	// because it failed its health checks there (a host whose ports do not answer): new
	// tasks go to other hosts while any fits, as Nomad's reschedule penalty does. aside
	// holds the avoided candidates taken out of the tree; they come back, for good, once
	// no other host fits.
	avoided  []bool
	aside    []*candidate
	fallback bool
}

// avoid names the hosts where the service's tasks being replaced failed (see placer.avoided).
func newPlacer(c *cluster, svc manifest.ServiceSpec, td manifest.TaskDef, keep []state.TaskState, avoid ...string) (*placer, error) {
	p := &placer{c: c, service: svc.Name, need: manifest.Resources{CPU: td.CPU, Memory: td.Memory},
		hostPort: td.HostPort, spec: svc.Placement, cands: make([]*candidate, len(c.hosts)),
		counts: make([]int, len(c.hosts)), avoided: make([]bool, len(c.hosts))}
	for _, name := range avoid {
		if i, ok := c.byName[name]; ok {
			p.avoided[i] = true
		}
	}
	for _, k := range p.spec.Constraints {
		switch k.Kind {
		case manifest.ConstraintDistinctHost:
			p.distinct = true
		case manifest.ConstraintEquals, manifest.ConstraintIn:
			if k.Attribute == "" || len(k.Values) == 0 {
				return nil, fmt.Errorf("service %s: constraint %s needs an attribute and a value", svc.Name, k.Kind)
			}
		default:
			return nil, fmt.Errorf("service %s: unknown constraint kind %q (want %s, %s or %s)", svc.Name, k.Kind,
				manifest.ConstraintDistinctHost, manifest.ConstraintEquals, manifest.ConstraintIn)
		}
	}
	binpack := false
	switch p.spec.Strategy {
	case "", "spread":
	case "binpack":
		binpack = true
	default:
		return nil, fmt.Errorf("service %s: unknown placement strategy %q (want spread or binpack)", svc.Name, p.spec.Strategy)
	}

	groups := map[string]int{}
	for _, t := range keep {
		i, ok := c.byName[t.Host]
		if !ok {
			continue
		}
		p.counts[i]++
		key := ""
		for _, attr := range p.spec.SpreadBy {
			v, _ := c.hosts[i].Attribute(attr)
			key += v + "\x00"
			groups[key]++
		}
	}
	p.tree = newRankTree(c, binpack)
	path := make([]string, len(p.spec.SpreadBy))
	groupCount := func(key string) int { return groups[key] }
	for i := range c.hosts {
		if p.staticReason(i) != "" || (p.distinct && p.counts[i] > 0) {
			continue
		}
		for j, attr := range p.spec.SpreadBy {
			path[j], _ = c.hosts[i].Attribute(attr) // hosts without it form the "" group
		}
		cand := &candidate{slot: i, count: p.counts[i]}
		p.cands[i] = cand
		p.tree.insert(cand, path, groupCount)
	}
	return p, nil
}

// staticReason says why a host can never take the service's tasks during this plan, or "".
func (p *placer) staticReason(i int) string {
	h := &p.c.hosts[i]
	if !h.Reachable {
		return "unreachable"
	}
	for _, k := range p.spec.Constraints {
		if k.Kind == manifest.ConstraintDistinctHost {
			continue
		}
		v, ok := h.Attribute(k.Attribute)
		if !ok || !slices.Contains(k.Values, v) {
			return "constraint " + k.String()
		}
	}
	return ""
}

// fits reports whether the host can take one more task now. A host whose capacity was
// not read fits nothing; the attempt is remembered so Compute refuses the plan
// (ErrCapacityUnknown) and the caller can read the capacity and plan again.
func (p *placer) fits(i int) bool {
	if !p.c.hosts[i].CapacityKnown {
		p.c.capacityWanted = true
		return false
	}
	f := p.c.free[i]
	return f.CPU >= p.need.CPU && f.Memory >= p.need.Memory && !p.c.portUsed(i, p.hostPort) &&
		!(p.distinct && p.counts[i] > 0)
}

// place puts one task on the best host that fits and returns the host's slot.
// taskNo and count only word the error.
func (p *placer) place(taskNo, count int) (int, error) {
	slot, ok := p.tryPlace()
	if !ok {
		return 0, p.noHostError(taskNo, count)
	}
	return slot, nil
}

// tryPlace is place without the error, for callers that have another way out: the
// error scans every host, too slow to build each time a lack of room ends a wave.
func (p *placer) tryPlace() (int, bool) {
	for {
		cand := p.tree.best()
		if cand == nil && len(p.aside) > 0 {
			p.fallback = true // only avoided hosts are left: better there than nowhere
			for _, a := range p.aside {
				a.aside = false
				p.tree.add(a)
			}
			p.aside = nil
			continue
		}
		if cand == nil {
			return 0, false
		}
		if p.avoided[cand.slot] && !p.fallback {
			p.tree.remove(cand)
			cand.aside = true
			p.aside = append(p.aside, cand)
			continue
		}
		if !p.fits(cand.slot) {
			p.tree.remove(cand)
			cand.out = true
			if p.distinct && p.counts[cand.slot] > 0 {
				cand.gone = true
			}
			continue
		}
		var ports []int
		if p.hostPort != 0 {
			ports = []int{p.hostPort}
		}
		p.c.take(cand.slot, p.need, ports)
		p.counts[cand.slot]++
		cand.count++
		p.tree.placed(cand)
		p.tree.freed(cand)
		return cand.slot, true
	}
}

// freed tells the placer that a host got resources back (a task stopped), so a host that
// left the tree for lack of room may come back.
func (p *placer) freed(i int) {
	cand := p.cands[i]
	if cand == nil || cand.gone || cand.aside {
		return // an avoided host set aside is checked again if it comes back
	}
	if cand.out {
		if p.fits(i) {
			cand.out = false
			p.tree.add(cand)
		}
		return
	}
	p.tree.freed(cand)
}

// noHostError explains, per reason, how many hosts were filtered out. It scans every
// host, which is fine: it runs once, on the way out.
func (p *placer) noHostError(taskNo, count int) error {
	return fmt.Errorf("service %s: cannot place task %d of %d: no host fits: %s", p.service, taskNo, count, p.blockers())
}

// blockers says, per reason, how many hosts cannot take a task now.
func (p *placer) blockers() string {
	if len(p.c.hosts) == 0 {
		return "the environment has no hosts"
	}
	var memory, cpu, port, distinct, unreachable int
	var mostMem, mostCPU int64 = -1 << 62, -1 << 62
	constraints := map[string]int{}
	for i := range p.c.hosts {
		f := p.c.free[i]
		switch r := p.staticReason(i); {
		case r == "unreachable":
			unreachable++
		case r != "":
			constraints[strings.TrimPrefix(r, "constraint ")]++
		case p.distinct && p.counts[i] > 0:
			distinct++
		case p.c.portUsed(i, p.hostPort):
			port++
		case f.Memory < p.need.Memory:
			memory++
			mostMem = max(mostMem, f.Memory)
		case f.CPU < p.need.CPU:
			cpu++
			mostCPU = max(mostCPU, f.CPU)
		}
	}
	var parts []string
	if memory > 0 {
		parts = append(parts, fmt.Sprintf("%s memory (need %d MiB, most free %d MiB)",
			hosts(memory, "lacks", "lack"), p.need.Memory, max(mostMem, 0)))
	}
	if cpu > 0 {
		parts = append(parts, fmt.Sprintf("%s cpu (need %d units, most free %d)",
			hosts(cpu, "lacks", "lack"), p.need.CPU, max(mostCPU, 0)))
	}
	if port > 0 {
		parts = append(parts, fmt.Sprintf("%s host port %d in use", hosts(port, "has", "have"), p.hostPort))
	}
	if distinct > 0 {
		parts = append(parts, fmt.Sprintf("%s a task of %s (distinct_host)", hosts(distinct, "already runs", "already run"), p.service))
	}
	if unreachable > 0 {
		parts = append(parts, hosts(unreachable, "unreachable", "unreachable"))
	}
	for _, k := range p.spec.Constraints {
		if k.Kind == manifest.ConstraintDistinctHost {
			continue
		}
		text := k.String()
		if n := constraints[text]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s constraint %s", hosts(n, "fails", "fail"), text))
			delete(constraints, text)
		}
	}
	return strings.Join(parts, ", ")
}

// hosts words "1 host lacks" / "3 hosts lack".
func hosts(n int, one, many string) string {
	if n == 1 {
		return "1 host " + one
	}
	return fmt.Sprintf("%d hosts %s", n, many)
}
