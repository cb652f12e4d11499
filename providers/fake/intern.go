package fake

import (
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"weak"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// interner shares equal values between a cloud's hosts and containers. A real host keeps
// its own containers and records, out of deck's process; a fake cloud keeps every host's
// in deck's, where 10,000 containers of a few revisions would otherwise hold 10,000
// copies of the same task definition (as label text and parsed) and every record written
// to all hosts a copy per host. What it shares is never modified: a record's labels and
// a container's parsed spec are read-only, as they are to the code that lists them. It
// holds them weakly: a value no container or record uses any more is let go, so a long
// simulation that writes ever new records (leases, events) does not grow with them.
type interner struct {
	mu      sync.Mutex
	specs   weakCache[shared[manifest.TaskDef]]
	desired weakCache[shared[providers.DesiredState]]
	records weakCache[labelSet]
}

// shared is a label's JSON text and what it parses to, kept together: a container's
// parsed value points into it, which keeps the text (its label) shared too.
type shared[T any] struct {
	raw string
	v   T
}

// labelSet is a record's labels, shared by the hosts that keep equal records.
type labelSet struct{ m map[string]string }

func newInterner() *interner {
	return &interner{specs: newWeakCache[shared[manifest.TaskDef]](), desired: newWeakCache[shared[providers.DesiredState]](),
		records: newWeakCache[labelSet]()}
}

// task makes a container's task from its labels: a copy of them whose task definition
// and desired state (JSON) are shared with the other containers that have the same, as
// are their parsed forms.
func (in *interner) task(labels map[string]string) providers.Task {
	own := maps.Clone(labels)
	t := providers.TaskFromLabels(own)
	in.mu.Lock()
	defer in.mu.Unlock()
	if raw := own[providers.LabelSpec]; t.Meta.Spec != nil {
		s := in.specs.get(&in.mu, raw, func() *shared[manifest.TaskDef] {
			return &shared[manifest.TaskDef]{raw: raw, v: *t.Meta.Spec}
		})
		own[providers.LabelSpec], t.Meta.Spec = s.raw, &s.v
	}
	if raw := own[providers.LabelDesired]; t.Meta.Desired != nil {
		s := in.desired.get(&in.mu, raw, func() *shared[providers.DesiredState] {
			return &shared[providers.DesiredState]{raw: raw, v: *t.Meta.Desired}
		})
		own[providers.LabelDesired], t.Meta.Desired = s.raw, &s.v
	}
	return t
}

// record returns a record's labels, the same for equal labels; the caller keeps the
// labelSet as long as it uses them.
func (in *interner) record(labels map[string]string) *labelSet {
	if labels == nil {
		return &labelSet{}
	}
	keys := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.records.get(&in.mu, b.String(), func() *labelSet { return &labelSet{m: maps.Clone(labels)} })
}

// weakCache finds a value by key while something else holds it.
type weakCache[T any] struct{ m map[string]weak.Pointer[T] }

func newWeakCache[T any]() weakCache[T] { return weakCache[T]{m: map[string]weak.Pointer[T]{}} }

// get returns the value cached under key, or caches and returns a new one. mu, held by
// the caller, guards the cache; an entry is removed once its value is collected.
func (c weakCache[T]) get(mu *sync.Mutex, key string, make func() *T) *T {
	if w, ok := c.m[key]; ok {
		if v := w.Value(); v != nil {
			return v
		}
	}
	v := make()
	w := weak.Make(v)
	c.m[key] = w
	runtime.AddCleanup(v, func(key string) {
		mu.Lock()
		defer mu.Unlock()
		if c.m[key] == w {
			delete(c.m, key)
		}
	}, key)
	return v
}
