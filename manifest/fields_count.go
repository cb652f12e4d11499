package manifest

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Copilot's default cooldowns: scale out again after a minute, scale in two minutes after
// any scaling action.
const (
	DefaultCooldownIn  = 120 * time.Second
	DefaultCooldownOut = 60 * time.Second
)

// maxCooldown bounds a cooldown: longer means the service effectively never scales.
const maxCooldown = 24 * time.Hour

const countWant = "want a whole number such as 3, or a map with range: 1-10"

// targetKeys are the metrics a range can track.
var targetKeys = []string{"cpu_percentage", "memory_percentage", "requests"}

// count reads a fixed count, or a map with a range and scaling targets.
func (s *serviceLoader) count(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		var v int
		if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
			if !s.quoted(n, path, "!!int") {
				s.errorf(n, path, "%s is not a count; %s", describe(n), countWant)
			}
			return
		}
		if v < 0 {
			s.errorf(n, path, "%d is negative; want 0 or more tasks", v)
			return
		}
		s.spec.Count = Count{Value: v}
	case yaml.MappingNode:
		s.spec.Count = s.scaledCount(n, path)
	default:
		s.errorf(n, path, "found %s; %s", describe(n), countWant)
	}
}

// scaledCount reads {range, cpu_percentage, memory_percentage, requests, cooldown}: a
// range the controller keeps the count within, tracking the targets.
func (s *serviceLoader) scaledCount(n *yaml.Node, path string) Count {
	c := Count{Scale: &ScaleTargets{CooldownIn: DefaultCooldownIn, CooldownOut: DefaultCooldownOut}}
	percent := func(dst *int) func(*yaml.Node, string) {
		return func(n *yaml.Node, p string) { *dst, _ = s.intRange(n, p, 1, 100, " percent") }
	}
	s.mapping(n, path, []field{
		{"range", func(n *yaml.Node, p string) { c.Range = s.countRange(n, p) }},
		{"cpu_percentage", percent(&c.Scale.CPUPercent)},
		{"memory_percentage", percent(&c.Scale.MemoryPercent)},
		{"requests", func(n *yaml.Node, p string) {
			c.Scale.RequestsPerTask, _ = s.intRange(n, p, 1, -1, " requests in flight per task")
		}},
		{"cooldown", func(n *yaml.Node, p string) { s.cooldown(c.Scale, n, p) }},
	})
	if !s.has(joinPath(path, "range")) {
		s.errorf(n, joinPath(path, "range"), "a count map needs range: <min>-<max>, such as range: 1-10; for a fixed count write count: 3")
		return c
	}
	targets := 0
	for _, k := range targetKeys {
		if s.has(joinPath(path, k)) {
			targets++
		}
	}
	if targets == 0 {
		s.errorf(n, path, "a range needs a target to scale on; want one or more of %s, such as cpu_percentage: 70; for a fixed count write count: 3",
			strings.Join(targetKeys, ", "))
	}
	if c.Range == nil {
		return c
	}
	if c.Range.Min == 0 {
		s.errorf(s.nodes[joinPath(path, "range")], joinPath(path, "range"),
			"min is 0, and with no task running there is no load to measure, so the service could never scale out again; want a min of 1 or more, such as 1-%d", c.Range.Max)
	}
	c.Value = c.Range.Min
	return c
}

// cooldown reads one duration for both directions, or {in, out}.
func (s *serviceLoader) cooldown(sc *ScaleTargets, n *yaml.Node, path string) {
	if n.Kind == yaml.MappingNode {
		s.mapping(n, path, []field{
			{"in", func(n *yaml.Node, p string) { sc.CooldownIn, _ = s.durationIn(n, p, 0, maxCooldown, sc.CooldownIn) }},
			{"out", func(n *yaml.Node, p string) { sc.CooldownOut, _ = s.durationIn(n, p, 0, maxCooldown, sc.CooldownOut) }},
		})
		return
	}
	if n.Kind != yaml.ScalarNode {
		s.errorf(n, path, "found %s; want a duration for both directions such as 60s, or {in: 120s, out: 60s}", describe(n))
		return
	}
	if v, ok := s.durationIn(n, path, 0, maxCooldown, 0); ok {
		sc.CooldownIn, sc.CooldownOut = v, v
	}
}

// countRange reads "1-10" or {min: 1, max: 10}.
func (s *serviceLoader) countRange(n *yaml.Node, path string) *CountRange {
	const want = "want min-max such as 1-10, or {min: 1, max: 10}"
	var r CountRange
	switch n.Kind {
	case yaml.ScalarNode:
		lo, hi, ok := strings.Cut(n.Value, "-")
		var err1, err2 error
		r.Min, err1 = strconv.Atoi(strings.TrimSpace(lo))
		r.Max, err2 = strconv.Atoi(strings.TrimSpace(hi))
		if !ok || err1 != nil || err2 != nil || r.Min < 0 {
			s.errorf(n, path, "%s is not a range; %s", describe(n), want)
			return nil
		}
	case yaml.MappingNode:
		var okMin, okMax bool
		s.mapping(n, path, []field{
			{"min", func(n *yaml.Node, p string) { r.Min, okMin = s.intRange(n, p, 0, -1, " tasks") }},
			{"max", func(n *yaml.Node, p string) { r.Max, okMax = s.intRange(n, p, 1, -1, " tasks") }},
		})
		if !okMin || !okMax {
			if !s.has(joinPath(path, "min")) || !s.has(joinPath(path, "max")) {
				s.errorf(n, path, "the range needs both min and max; %s", want)
			}
			return nil
		}
	default:
		s.errorf(n, path, "found %s; %s", describe(n), want)
		return nil
	}
	switch {
	case r.Max < r.Min:
		s.errorf(n, path, "max %d is below min %d; want min <= max, such as %d-%d", r.Max, r.Min, r.Max, r.Min)
		return nil
	case r.Max < 1:
		s.errorf(n, path, "max is 0, so the service could never run; want a max of 1 or more")
		return nil
	}
	return &r
}
