package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/providers"
)

// recordSettings keeps the hosts' desired state in step with the manifests when the plan
// is empty: a change of count range, scaling targets, rollout or placement settings, or a
// schedule, alone changes no task, yet the controller acts on it. It reads the records
// (one listing per host) and, only when a service's differs, takes the lock and writes
// them; an unchanged deploy still takes no lock and writes nothing.
//
// deck delete of a service with no tasks left (a count of 0, a first deploy that failed)
// has an empty plan too: its desired state is then recorded as deleted, so deck status and
// the controller forget it, and out.Forgotten names it.
func (d Deploy) recordSettings(ctx context.Context, s *Session, out *Outcome) error {
	if d.Heal || d.PlanOnly || d.Saved != nil || len(d.Target.Services)+len(d.Delete) == 0 {
		return nil
	}
	recs, err := readDesired(ctx, s)
	if err != nil {
		return fmt.Errorf("reading the desired state on the hosts: %w", err)
	}
	var changed []string
	for _, svc := range d.Target.Services {
		want, _ := json.Marshal(providers.DesiredStateOf(svc))
		rec, ok := recs[svc.Name]
		if have, _ := json.Marshal(rec.State); !ok || string(have) != string(want) {
			changed = append(changed, svc.Name)
		}
	}
	var forget []string
	for _, name := range d.Delete {
		if _, ok := recs[name]; ok {
			forget = append(forget, name)
		}
	}
	if len(changed)+len(forget) == 0 {
		return nil
	}
	sort.Strings(changed)
	if d.Lock != nil {
		lease, err := d.Lock(ctx, s)
		if err != nil {
			return err
		}
		s.SetEpoch(lease.Epoch())
		defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
		if err := lease.Check(); err != nil {
			return err
		}
	}
	if err := WriteDesired(ctx, s, d.Target.Services, forget); err != nil {
		return err
	}
	out.Forgotten = forget
	if d.Events != nil && len(forget) > 0 {
		d.Events(executor.Event{Time: time.Now(), Kind: executor.EventServiceDone, Service: strings.Join(forget, ","),
			Message: "had no tasks; its desired state is recorded as deleted"})
	}
	if d.Events != nil && len(changed) > 0 {
		d.Events(executor.Event{Time: time.Now(), Kind: executor.EventServiceDone, Service: strings.Join(changed, ","),
			Message: "settings recorded for the controller (count, scaling, rollout, placement or schedule); no task changes"})
	}
	return nil
}
