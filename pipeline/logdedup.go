package pipeline

import (
	"time"

	"github.com/deckhq/deck/providers"
)

// dedup keeps one task's lines from being given out twice when its log is read again
// from where a read broke off. Podman 4.3 stamps lines to the second and a read from a
// second gives all of that second's lines again, so a line is told apart by its second,
// its stream and text, and how many times the same line came earlier in that second: the
// third "ok" of 12:00:01 is given out only if two were given out already.
type dedup struct {
	any       bool
	sec       time.Time      // the second of the newest line given out
	seen      map[string]int // lines of sec given out, by stream and text
	replay    map[string]int // lines of sec seen in this read
	replaying bool           // this read started at sec: its lines before sec are old
}

// restart is called before each read after the first: it starts from sec again.
func (d *dedup) restart() {
	d.replay = map[string]int{}
	d.replaying = d.any
}

// keep reports whether l is new, and counts it.
func (d *dedup) keep(l providers.LogLine) bool {
	s := l.Time.Truncate(time.Second)
	key := l.Stream + "\x00" + l.Text
	switch {
	case !d.any || s.After(d.sec):
		d.any, d.sec, d.replaying = true, s, false
		d.seen, d.replay = map[string]int{key: 1}, map[string]int{key: 1}
		return true
	case d.replaying && s.Before(d.sec):
		return false
	}
	// The same second (or, outside a replay, a host clock that stepped back: counted with
	// the newest second, so the task's lines all still come out).
	d.replay[key]++
	if d.replay[key] <= d.seen[key] {
		return false
	}
	d.seen[key]++
	return true
}

// resumeFrom is where a read after the first starts: the newest line's second.
func (d *dedup) resumeFrom() (time.Time, bool) { return d.sec, d.any }
