package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"sort"
	"strconv"
)

// computeFingerprint digests what applying a plan depends on: which hosts answer, which
// task runs where in which state and revision, and the load balancers' routes (the
// executor writes a route whole, as the plan read it: a saved plan must not revert a
// route changed since). Capacity and versions are left out: they drift without making a
// plan wrong, and a plan refused for them would only annoy.
func (s *Snapshot) computeFingerprint() string {
	var lines []string
	for _, h := range s.Hosts() {
		lines = append(lines, "host\x00"+h.Name+"\x00"+strconv.FormatBool(h.Reachable))
	}
	for t := range s.EachTask() {
		lines = append(lines, "task\x00"+t.Host+"\x00"+t.ContainerID+"\x00"+t.State+"\x00"+t.Revision)
	}
	for _, r := range s.Routes() {
		rt := r.Route // whole, so that a field added to routes is covered too
		rt.Targets, rt.Draining = slices.Sorted(slices.Values(rt.Targets)), slices.Sorted(slices.Values(rt.Draining))
		b, _ := json.Marshal(rt)
		lines = append(lines, "route\x00"+r.LB+"\x00"+string(b))
	}
	sort.Strings(lines)
	// The digest of the lines joined by newlines, written line by line rather than
	// joined into one more string of them all.
	d := sha256.New()
	for i, l := range lines {
		if i > 0 {
			d.Write([]byte{'\n'})
		}
		io.WriteString(d, l)
	}
	return hex.EncodeToString(d.Sum(nil))[:12]
}

func sortHosts(hs []HostState) {
	slices.SortFunc(hs, func(a, b HostState) int { return a.Order - b.Order })
}
