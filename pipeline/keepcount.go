package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/deckhq/deck/manifest"
)

// keepScaledCounts makes each service with a count range deploy at the count its desired
// state record holds (the autoscaler's), clamped into the manifest's range, rather than
// at the range's min: a deploy must not undo the autoscaler. A service deployed for the
// first time starts at the min, and one that had a fixed count keeps it if it is in the
// range (as Copilot does when autoscaling is turned on). The records are read only when
// a service has a range, so other deploys pay nothing.
func (d *Deploy) keepScaledCounts(ctx context.Context, s *Session, res *Resolved) error {
	ranged := false
	for _, dd := range res.Desired {
		ranged = ranged || dd.Service.Count.Range != nil
	}
	if !ranged {
		return nil
	}
	recs, err := readDesired(ctx, s)
	if err != nil {
		return fmt.Errorf("reading the counts the autoscaler set: %w", err)
	}
	kept := map[string]int{}
	for i := range res.Desired {
		svc := &res.Desired[i].Service
		if rec, ok := recs[svc.Name]; ok && svc.Count.Range != nil {
			svc.Count.Value = keptCount(svc.Count, rec.State.Count.Value)
			kept[svc.Name] = svc.Count.Value
		}
	}
	// A copy: the caller's services are not changed under it.
	d.Target.Services = slices.Clone(d.Target.Services)
	for i, svc := range d.Target.Services {
		if n, ok := kept[svc.Name]; ok {
			d.Target.Services[i].Count.Value = n
		}
	}
	return nil
}

// keptCount is the recorded count clamped into c's range.
func keptCount(c manifest.Count, recorded int) int {
	return min(max(recorded, c.Range.Min), c.Range.Max)
}
