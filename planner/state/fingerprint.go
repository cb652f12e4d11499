package state

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// computeFingerprint digests what applying a plan depends on: which hosts answer, and which
// task runs where in which state and revision. Capacity and versions are left out: they
// drift without making a plan wrong, and a plan refused for them would only annoy.
func (s *Snapshot) computeFingerprint() string {
	var lines []string
	for _, h := range s.Hosts() {
		lines = append(lines, "host\x00"+h.Name+"\x00"+strconv.FormatBool(h.Reachable))
	}
	for _, t := range s.Tasks() {
		lines = append(lines, "task\x00"+t.Host+"\x00"+t.ContainerID+"\x00"+t.State+"\x00"+t.Revision)
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])[:12]
}

func sortHosts(hs []HostState) {
	slices.SortFunc(hs, func(a, b HostState) int { return a.Order - b.Order })
}
