package fake

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/deckhq/deck/providers"
)

// SetClock makes the host's clock (Now, and the creation time of records) read from now;
// tests use it to expire leases without waiting. Default: time.Now.
func (h *Host) SetClock(now func() time.Time) { h.mu.Lock(); h.clock = now; h.mu.Unlock() }

func (h *Host) now() time.Time {
	if h.clock != nil {
		return h.clock()
	}
	return time.Now()
}

// validRecordName applies Podman's rule for secret names (records are Podman secrets):
// 1 to 64 letters, digits, '.', '_' and '-', starting and ending with a letter or digit.
// The fake refuses what a real host would, so a bad name fails in unit tests already.
func validRecordName(name string) error {
	ok := len(name) >= 1 && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		inner := (c == '.' || c == '_' || c == '-') && i > 0 && i < len(name)-1
		ok = alnum || inner
	}
	if !ok {
		return fmt.Errorf("invalid record name %q: 1 to 64 letters, digits, '.', '_' and '-', "+
			"starting and ending with a letter or digit", name)
	}
	return nil
}

// storedRecord is a record as a host keeps it: its labels may be shared with equal records
// of other hosts (see interner), which labels keeps alive.
type storedRecord struct {
	providers.Record
	labels *labelSet
}

// CreateRecord creates a record, failing with ErrExists when the name is taken.
func (h *Host) CreateRecord(_ context.Context, name string, labels map[string]string) error {
	if err := h.check("creating record " + name); err != nil {
		return err
	}
	if err := validRecordName(name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Calls = append(h.Calls, "create record "+name)
	if _, ok := h.records[name]; ok {
		return fmt.Errorf("record %s: %w", name, providers.ErrExists)
	}
	ls := h.cloud.intern.record(labels)
	h.records[name] = storedRecord{Record: providers.Record{Name: name, Labels: ls.m, Created: h.now()}, labels: ls}
	return nil
}

// ListRecords returns the records whose names start with prefix, sorted by name.
func (h *Host) ListRecords(_ context.Context, prefix string) ([]providers.Record, error) {
	if err := h.check("listing records " + prefix + "*"); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []providers.Record
	for n, sr := range h.records {
		if strings.HasPrefix(n, prefix) {
			r := sr.Record
			r.Labels = maps.Clone(r.Labels)
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RemoveRecord deletes a record.
func (h *Host) RemoveRecord(_ context.Context, name string) error {
	if err := h.check("removing record " + name); err != nil {
		return err
	}
	if err := validRecordName(name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Calls = append(h.Calls, "remove record "+name)
	if _, ok := h.records[name]; !ok {
		return fmt.Errorf("record %s: %w", name, providers.ErrNotFound)
	}
	delete(h.records, name)
	return nil
}

// Now is the host's clock.
func (h *Host) Now(context.Context) (time.Time, error) {
	if err := h.check("reading the host's clock"); err != nil {
		return time.Time{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now(), nil
}
