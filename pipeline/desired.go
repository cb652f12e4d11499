package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// The desired state of each service (count, rollout, placement, schedule) is kept on the
// hosts as records, one generation per change, so a controller can rebuild what should
// run from the hosts alone, without the manifests. Task labels carry it too, but they are
// fixed when a task is created; a count change that creates nothing would leave them stale.
// The records use the task labels' keys (providers.Label*) for what they share with them.
const (
	recordPrefix     = "deck-desired."
	labelDesired     = providers.LabelDesired
	labelService     = providers.LabelService
	labelApp         = providers.LabelApp
	labelEnv         = providers.LabelEnv
	labelDeleted     = "deck.deleted"
	labelRecordGen   = "deck.generation"
	labelRecordEpoch = "deck.epoch"
)

// recordOrder is where a record stands among the generations of its kind: by the deploy
// lock epoch it was written under, then by generation. Each host counts its own
// generations, so generations alone cannot order writes that reached different hosts (a
// deploy that could not reach h2, then one that could not reach h1): the epoch, global,
// does. A record written without a lock takes the newest epoch on its host.
type recordOrder struct{ epoch, gen int }

func orderOf(r providers.Record) recordOrder {
	gen, _ := strconv.Atoi(r.Labels[labelRecordGen])
	epoch, _ := strconv.Atoi(r.Labels[labelRecordEpoch])
	return recordOrder{epoch, gen}
}

func (o recordOrder) after(p recordOrder) bool {
	return o.epoch > p.epoch || o.epoch == p.epoch && o.gen > p.gen
}

// desiredPrefix names a service's records: digests keep names under Podman's 64 characters.
func desiredPrefix(app, env, service string) string {
	sum := sha256.Sum256([]byte(app + "\x00" + env + "\x00" + service))
	return recordPrefix + hex.EncodeToString(sum[:])[:16] + ".g"
}

// WriteDesired records the desired state of services (and the deletion of deleted) on
// every reachable host, where it differs from the newest record there.
func WriteDesired(ctx context.Context, s *Session, services []manifest.ServiceSpec, deleted []string) error {
	s.records = nil
	app, env := s.T.App.Name, s.T.Env.Name
	type entry struct {
		name   string
		labels map[string]string
	}
	var entries []entry
	for _, svc := range services {
		b, err := json.Marshal(providers.DesiredStateOf(svc))
		if err != nil {
			return err
		}
		entries = append(entries, entry{svc.Name, map[string]string{labelDesired: string(b)}})
	}
	for _, name := range deleted {
		entries = append(entries, entry{name, map[string]string{labelDeleted: "true"}})
	}
	var mu sync.Mutex
	var errs []error
	forHosts(s, func(h providers.Host) {
		for _, e := range entries {
			labels := map[string]string{labelApp: app, labelEnv: env, labelService: e.name}
			for k, v := range e.labels {
				labels[k] = v
			}
			if err := writeRecord(ctx, s, h, desiredPrefix(app, env, e.name), labels); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("recording the desired state of service %s on host %s: %w", e.name, h.Name(), err))
				mu.Unlock()
				return
			}
		}
	})
	return errors.Join(errs...)
}

// writeRecord creates the next generation of prefix on h unless the newest one already
// holds labels, then removes the older generations. It carries the session's lock epoch,
// or the newest one on h if that is later (recordOrder).
func writeRecord(ctx context.Context, s *Session, h providers.Host, prefix string, labels map[string]string) error {
	recs, err := h.ListRecords(ctx, prefix)
	if err != nil {
		return err
	}
	newest, gen := newestGeneration(recs, prefix)
	if newest != nil && sameLabels(newest.Labels, labels) {
		return nil
	}
	epoch := int(s.epoch.Load())
	if newest != nil {
		epoch = max(epoch, orderOf(*newest).epoch)
	}
	if epoch > 0 {
		labels[labelRecordEpoch] = strconv.Itoa(epoch)
	}
	labels[labelRecordGen] = strconv.Itoa(gen + 1)
	if err := h.CreateRecord(ctx, prefix+strconv.Itoa(gen+1), labels); err != nil {
		return err
	}
	for _, r := range recs {
		_ = h.RemoveRecord(ctx, r.Name) // older generations: best effort, the newest wins on read
	}
	return nil
}

func newestGeneration(recs []providers.Record, prefix string) (*providers.Record, int) {
	var newest *providers.Record
	gen := 0
	for i, r := range recs {
		n, err := strconv.Atoi(strings.TrimPrefix(r.Name, prefix))
		if err == nil && n > gen {
			gen, newest = n, &recs[i]
		}
	}
	return newest, gen
}

func sameLabels(a, b map[string]string) bool {
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// ReadDesired returns each service's newest recorded desired state, from the reachable
// hosts. Deleted services are left out.
func ReadDesired(ctx context.Context, s *Session) (map[string]providers.DesiredState, error) {
	recs, err := readDesired(ctx, s)
	if err != nil {
		return nil, err
	}
	out := make(map[string]providers.DesiredState, len(recs))
	for name, r := range recs {
		out[name] = r.State
	}
	return out, nil
}

// desiredRecord is a service's newest desired state and when it was recorded (by the
// clock of the host that keeps the record).
type desiredRecord struct {
	State    providers.DesiredState
	Recorded time.Time
}

// readDesired reads the newest desired-state record of each service that is not deleted.
func readDesired(ctx context.Context, s *Session) (map[string]desiredRecord, error) {
	app, env := s.T.App.Name, s.T.Env.Name
	type seen struct {
		order recordOrder
		rec   providers.Record
	}
	best := map[string]seen{}
	hr := s.records
	if hr == nil {
		hr = &hostRecords{recs: map[string][]providers.Record{}}
		forHosts(s, func(h providers.Host) { hr.read(ctx, h) })
	}
	errs := hr.errs
	for _, recs := range hr.recs {
		for _, r := range recs {
			if r.Labels[labelApp] != app || r.Labels[labelEnv] != env {
				continue
			}
			name, o := r.Labels[labelService], orderOf(r)
			if cur, ok := best[name]; !ok || o.after(cur.order) {
				best[name] = seen{o, r}
			}
		}
	}
	out := map[string]desiredRecord{}
	for name, sn := range best {
		if sn.rec.Labels[labelDeleted] == "true" {
			continue
		}
		var d providers.DesiredState
		if err := json.Unmarshal([]byte(sn.rec.Labels[labelDesired]), &d); err == nil {
			out[name] = desiredRecord{State: d, Recorded: sn.rec.Created}
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// read lists h's desired-state records.
func (hr *hostRecords) read(ctx context.Context, h providers.Host) {
	recs, err := h.ListRecords(ctx, recordPrefix)
	hr.mu.Lock()
	defer hr.mu.Unlock()
	if err != nil {
		hr.errs = append(hr.errs, err)
		return
	}
	hr.recs[h.Name()] = recs
}

func forHosts(s *Session, fn func(h providers.Host)) {
	var wg sync.WaitGroup
	for _, name := range s.Fleet.Names() {
		h := s.Fleet.Host(name)
		if h == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(h)
		}()
	}
	wg.Wait()
}
