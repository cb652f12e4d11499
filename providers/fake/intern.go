package fake

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// interner shares equal values between a cloud's hosts and containers. A real host keeps
// its own containers and records, out of deck's process; a fake cloud keeps every host's
// in deck's, where 10,000 containers of a few revisions would otherwise hold 10,000
// copies of the same task definition (as label text and parsed) and every record written
// to all hosts a copy per host. What it shares is never modified: a record's labels and
// a container's parsed spec are read-only, as they are to the code that lists them.
type interner struct {
	mu      sync.Mutex
	strs    map[string]string
	records map[string]map[string]string
	specs   map[string]*manifest.TaskDef
	desired map[string]*providers.DesiredState
}

func newInterner() *interner {
	return &interner{strs: map[string]string{}, records: map[string]map[string]string{},
		specs: map[string]*manifest.TaskDef{}, desired: map[string]*providers.DesiredState{}}
}

// task makes a container's task from its labels: a copy of them whose long values (the
// task definition and the desired state, as JSON) are shared with the other containers
// that have the same, as are their parsed forms.
func (in *interner) task(labels map[string]string) providers.Task {
	in.mu.Lock()
	defer in.mu.Unlock()
	own := make(map[string]string, len(labels))
	for k, v := range labels {
		if k == providers.LabelSpec || k == providers.LabelDesired {
			v = in.str(v)
		}
		own[k] = v
	}
	t := providers.TaskFromLabels(own)
	if raw := own[providers.LabelSpec]; t.Meta.Spec != nil {
		if td, ok := in.specs[raw]; ok {
			t.Meta.Spec = td
		} else {
			in.specs[raw] = t.Meta.Spec
		}
	}
	if raw := own[providers.LabelDesired]; t.Meta.Desired != nil {
		if d, ok := in.desired[raw]; ok {
			t.Meta.Desired = d
		} else {
			in.desired[raw] = t.Meta.Desired
		}
	}
	return t
}

func (in *interner) str(s string) string {
	if v, ok := in.strs[s]; ok {
		return v
	}
	in.strs[s] = s
	return s
}

// record returns a copy of a record's labels, the same map for equal labels.
func (in *interner) record(labels map[string]string) map[string]string {
	if labels == nil {
		return nil
	}
	keys := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	key := b.String()
	in.mu.Lock()
	defer in.mu.Unlock()
	if m, ok := in.records[key]; ok {
		return m
	}
	m := maps.Clone(labels)
	in.records[key] = m
	return m
}
