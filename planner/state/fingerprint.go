package state

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"sort"
	"strconv"
)

// computeFingerprint digests what applying a plan depends on: which hosts answer, and which
// task runs where in which state and revision. Capacity and versions are left out: they
// drift without making a plan wrong, and a plan refused for them would only annoy.
func (s *Snapshot) computeFingerprint() string {
	var lines []string
	for _, h := range s.Hosts() {
		lines = append(lines, "host\x00"+h.Name+"\x00"+strconv.FormatBool(h.Reachable))
	}
	for t := range s.EachTask() {
		lines = append(lines, "task\x00"+t.Host+"\x00"+t.ContainerID+"\x00"+t.State+"\x00"+t.Revision)
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
