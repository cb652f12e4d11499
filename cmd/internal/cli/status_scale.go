package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
)

// ScalingStatus is an autoscaled service's range, targets, last scaling action and why it
// does not scale in now.
type ScalingStatus struct {
	Range   manifest.CountRange   `json:"range"`
	Targets manifest.ScaleTargets `json:"targets"`
	// Last is the autoscaler's last change of the count; nil when it made none.
	Last *pipeline.ScaleAction `json:"last,omitempty"`
	// NoScaleIn is why it does not scale in now, as the autoscaler last said.
	NoScaleIn      string `json:"no_scale_in,omitempty"`
	NoScaleInSince string `json:"no_scale_in_since,omitempty"` // RFC 3339
}

// addScaling fills in the services that have a count range: their desired count is the
// one recorded on the hosts (the autoscaler's), not the manifest's min, and their scaling
// state. The records are read only when a manifest has a range.
func addScaling(ctx context.Context, w *world, s *pipeline.Session, st *Status) {
	ranged := map[string]manifest.Count{}
	for _, svc := range w.services {
		if svc.Count.Range != nil && svc.Count.Scale != nil {
			ranged[svc.Name] = svc.Count
		}
	}
	if len(ranged) == 0 {
		return
	}
	desired, _ := pipeline.ReadDesired(ctx, s) // unreadable: the manifest's count stays
	states, _ := pipeline.ReadScaleStates(ctx, s)
	for i := range st.Services {
		svc := &st.Services[i]
		c, ok := ranged[svc.Name]
		if !ok {
			continue
		}
		if d, ok := desired[svc.Name]; ok {
			n := min(max(d.Count.Value, c.Range.Min), c.Range.Max)
			svc.Desired = &n
		}
		sc := &ScalingStatus{Range: *c.Range, Targets: *c.Scale}
		if state, ok := states[svc.Name]; ok {
			sc.Last, sc.NoScaleIn = state.Last, state.NoScaleIn
			if !state.NoScaleInSince.IsZero() {
				sc.NoScaleInSince = state.NoScaleInSince.UTC().Format(time.RFC3339)
			}
		}
		svc.Scaling = sc
	}
}

// printScaling shows each autoscaled service's range and targets, its last scaling
// action, and why it does not scale in.
func printScaling(deps Deps, services []ServiceStatus) {
	out := deps.IO.Out
	for _, s := range services {
		sc := s.Scaling
		if sc == nil {
			continue
		}
		fmt.Fprintf(out, "%s scales within %d-%d on %s\n", s.Name, sc.Range.Min, sc.Range.Max, targetsText(sc.Targets))
		if sc.Last != nil {
			fmt.Fprintf(out, "  %s %s\n", sc.Last.Time.Local().Format("15:04:05"), sc.Last.Reason)
		}
		if sc.NoScaleIn != "" {
			fmt.Fprintf(out, "  %s\n", sc.NoScaleIn)
		}
	}
}

// targetsText is "cpu 70%, requests 10 in flight per task; cooldown in 2m, out 1m".
func targetsText(t manifest.ScaleTargets) string {
	var parts []string
	if t.CPUPercent > 0 {
		parts = append(parts, fmt.Sprintf("cpu %d%%", t.CPUPercent))
	}
	if t.MemoryPercent > 0 {
		parts = append(parts, fmt.Sprintf("memory %d%%", t.MemoryPercent))
	}
	if t.RequestsPerTask > 0 {
		parts = append(parts, fmt.Sprintf("requests %d in flight per task", t.RequestsPerTask))
	}
	return fmt.Sprintf("%s; cooldown in %s, out %s", strings.Join(parts, ", "), short(t.CooldownIn), short(t.CooldownOut))
}

// short is a duration as a manifest writes it: 2m, 1m30s, 45s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
