package manifest

import (
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// deployment reads the rolling preset and limits; validateDeployment combines them.
func (s *serviceLoader) deployment(n *yaml.Node, path string) {
	d := &s.spec.Deployment
	s.mapping(n, path, []field{
		{"rolling", func(n *yaml.Node, p string) {
			v, ok := s.str(n, p)
			if !ok {
				return
			}
			if _, known := rollingPresets[v]; !known {
				s.errorf(n, p, "%s is not a rolling strategy;%s want default (keep all tasks, start new ones first) or recreate (stop all, then start)", quote(v), suggest(v, []string{"default", "recreate"}))
				return
			}
			s.rolling = v
		}},
		{"min_healthy_percent", func(n *yaml.Node, p string) { d.MinHealthyPercent = s.percent(n, p, 0, 100) }},
		{"max_percent", func(n *yaml.Node, p string) { d.MaxPercent = s.percent(n, p, 100, 200) }},
		{"min_healthy_time", func(n *yaml.Node, p string) {
			d.MinHealthyTime, _ = s.durationIn(n, p, 0, 10*time.Minute, defaultMinHealthyTime)
		}},
		{"circuit_breaker", s.circuitBreaker},
	})
}

// circuitBreaker reads the failed-task threshold and whether a tripped rollout rolls back.
// A threshold left out stays 0: ECS's, computed from the count when the rollout starts.
func (s *serviceLoader) circuitBreaker(n *yaml.Node, path string) {
	cb := &s.spec.Deployment.CircuitBreaker
	s.mapping(n, path, []field{
		{"threshold", func(n *yaml.Node, p string) {
			cb.Threshold, _ = s.intRange(n, p, 1, 200, " failed tasks, or leave threshold out for half the count (3 to 200)")
		}},
		{"rollback", func(n *yaml.Node, p string) {
			if v, ok := s.boolean(n, p); ok {
				cb.Rollback = v
			}
		}},
	})
}

// percent decodes a rolling limit; a wrong one is reported and marks the deployment so
// the min/max comparison does not add a second, confusing error.
func (s *serviceLoader) percent(n *yaml.Node, path string, lo, hi int) int {
	v, ok := s.intRange(n, path, lo, hi, " percent of the count")
	if !ok {
		s.badPercent = true
	}
	return v
}

// placement reads the strategy, the attributes to spread by and the constraints.
func (s *serviceLoader) placement(n *yaml.Node, path string) {
	pl := &s.spec.Placement
	s.mapping(n, path, []field{
		{"strategy", func(n *yaml.Node, p string) {
			v, ok := s.str(n, p)
			if !ok {
				return
			}
			if v != "spread" && v != "binpack" {
				s.errorf(n, p, "%s is not a placement strategy;%s want spread (tasks over as many hosts as possible) or binpack (fill hosts one by one)", quote(v), suggest(v, []string{"spread", "binpack"}))
				return
			}
			pl.Strategy = v
		}},
		{"spread_by", func(n *yaml.Node, p string) {
			list, _ := s.stringList(n, p)
			for i, a := range list {
				if strings.TrimSpace(a) == "" {
					s.errorf(deref(n.Content[i]), indexPath(p, i), "an attribute name is empty; want a host attribute such as zone")
				}
			}
			pl.SpreadBy = list
		}},
		{"constraints", s.constraints},
	})
}

// constraints reads distinct_host and attributes; an attribute given a value must equal it,
// one given a list must be one of the list.
func (s *serviceLoader) constraints(n *yaml.Node, path string) {
	var out []Constraint
	var attrs []Constraint
	s.mapping(n, path, []field{
		{"distinct_host", func(n *yaml.Node, p string) {
			if v, ok := s.boolean(n, p); ok && v {
				out = append(out, Constraint{Kind: ConstraintDistinctHost})
			}
		}},
		{"attributes", func(n *yaml.Node, p string) {
			s.pairs(n, p, "a map of host attributes to a value or a list of values", func(k, v *yaml.Node, kp string) {
				s.nodes[kp] = v
				if strings.TrimSpace(k.Value) == "" {
					s.errorf(k, kp, "an attribute name is empty; want a host attribute such as zone")
					return
				}
				switch v.Kind {
				case yaml.SequenceNode:
					vals, ok := s.stringList(v, kp)
					if ok && len(vals) == 0 {
						s.errorf(v, kp, "the list is empty, so no host could match; want at least one value, such as [a, b]")
						return
					}
					attrs = append(attrs, Constraint{Kind: ConstraintIn, Attribute: k.Value, Values: vals})
				case yaml.ScalarNode:
					val, _ := s.str(v, kp)
					attrs = append(attrs, Constraint{Kind: ConstraintEquals, Attribute: k.Value, Values: []string{val}})
				default:
					s.errorf(v, kp, "found %s; want a value such as a, or a list of values such as [a, b]", describe(v))
				}
			})
		}},
	})
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Attribute < attrs[j].Attribute })
	s.spec.Placement.Constraints = append(out, attrs...)
}
