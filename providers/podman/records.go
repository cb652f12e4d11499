package podman

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/secrets"

	"github.com/deckhq/deck/providers"
)

// Records are Podman secrets whose labels hold the content. Podman creates a secret
// atomically by name (a second create of a taken name fails), keeps it across restarts,
// and never removes it in `podman system prune`: what a lock and a small store need,
// on every host, with nothing else to install.
//
// They share Podman's secret namespace with EnsureSecret's secrets: callers keep the two
// apart by prefix.

// recordValue is each record's secret value: Podman refuses empty secrets ("secret data
// must be larger than 0"), and the content is in the labels.
const recordValue = "r"

// maxRecordName is Podman's limit on secret names (4.3.1: "only 64 [a-zA-Z0-9-_.]
// characters allowed, and the start and end character must be [a-zA-Z0-9]").
const maxRecordName = 64

// validRecordName checks a name the way Podman 4.3 checks secret names, so a bad name is a
// clear error here and never a 500 from the server.
func validRecordName(name string) error {
	if name == "" || len(name) > maxRecordName {
		return fmt.Errorf("invalid record name %q: it must be 1 to %d characters", name, maxRecordName)
	}
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		inner := c == '.' || c == '_' || c == '-'
		if alnum || (inner && i > 0 && i < len(name)-1) {
			continue
		}
		return fmt.Errorf("invalid record name %q: only letters, digits, '.', '_' and '-' are allowed, "+
			"and it must start and end with a letter or digit", name)
	}
	return nil
}

// CreateRecord creates the record, or fails with ErrExists when the name is taken. Podman
// checks and stores under one lock, so of several creates of one name exactly one wins.
//
// The labels travel in the request's URL: keep them to a few tens of KB (60 KB was checked).
// When the call ends without an answer (ErrUnreachable), the record may exist all the
// same; and ErrExists can also mean this very call created it, when its first answer was
// lost and the bindings retried. A caller that must know (a lock) lists the record and
// compares its labels with what it wrote.
func (h *Host) CreateRecord(ctx context.Context, name string, labels map[string]string) error {
	op := "creating record " + name
	if err := validRecordName(name); err != nil {
		return h.fail(op, err)
	}
	cctx := h.call(ctx)
	opts := new(secrets.CreateOptions).WithName(name).WithLabels(labels)
	_, err := secrets.Create(cctx, strings.NewReader(recordValue), opts)
	if err != nil && isNameInUse(err) {
		return h.fail(op, fmt.Errorf("%w (%s)", providers.ErrExists, errorText(err)))
	}
	return h.wrap(cctx, op, err)
}

// ListRecords returns the records whose names start with prefix, sorted by name. Created
// is the secret's creation time, by the host's clock.
//
// Podman 4.3 lists secrets without their labels (checked: "Labels": null), so each record
// is read once more; the list is filtered here, not by the server, whose name filter is
// not a prefix match.
func (h *Host) ListRecords(ctx context.Context, prefix string) ([]providers.Record, error) {
	cctx := h.call(ctx)
	op := "listing records " + prefix + "*"
	list, err := secrets.List(cctx, nil)
	if err != nil {
		return nil, h.wrap(cctx, op, err)
	}
	var out []providers.Record
	var missing []int // records listed without labels, read in parallel below
	for _, s := range list {
		if !strings.HasPrefix(s.Spec.Name, prefix) {
			continue
		}
		out = append(out, providers.Record{Name: s.Spec.Name, Labels: s.Spec.Labels, Created: s.CreatedAt})
		if s.Spec.Labels == nil {
			missing = append(missing, len(out)-1)
		}
	}
	ids := map[string]string{}
	for _, s := range list {
		ids[s.Spec.Name] = s.ID
	}
	// A service's revision history grows by a record a deploy: read them 8 at a time.
	gone := make([]bool, len(out))
	errs := make([]error, len(missing))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for k, i := range missing {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			full, err := secrets.Inspect(cctx, ids[out[i].Name], nil)
			switch {
			case isNotFound(err):
				gone[i] = true // removed since the list
			case err != nil:
				errs[k] = err
			default:
				out[i].Labels = full.Spec.Labels
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, h.wrap(cctx, op, err)
		}
	}
	kept := out[:0]
	for i, r := range out {
		if gone[i] {
			continue
		}
		if r.Labels == nil {
			r.Labels = map[string]string{}
		}
		kept = append(kept, r)
	}
	out = kept
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RemoveRecord deletes a record; ErrNotFound when there is none.
func (h *Host) RemoveRecord(ctx context.Context, name string) error {
	op := "removing record " + name
	if err := validRecordName(name); err != nil {
		return h.fail(op, err)
	}
	cctx := h.call(ctx)
	return h.wrap(cctx, op, secrets.Remove(cctx, name))
}

// Now is the host's clock, read from the Date header of the API's ping. That header has
// one-second precision and is truncated, and the answer takes a round trip: Now may be up
// to a second (plus the round trip) behind the host's clock, never ahead of it. A lease
// judged by it therefore expires late rather than early.
func (h *Host) Now(ctx context.Context) (time.Time, error) {
	cctx := h.call(ctx)
	const op = "reading the host's clock"
	conn, err := bindings.GetClient(cctx)
	if err != nil {
		return time.Time{}, h.fail(op, err)
	}
	resp, err := conn.DoRequest(cctx, nil, http.MethodGet, "/_ping", nil, nil)
	if err != nil {
		return time.Time{}, h.wrap(cctx, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, h.fail(op, fmt.Errorf("ping answered %s", resp.Status))
	}
	t, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return time.Time{}, h.fail(op, fmt.Errorf("the answer's Date header %q: %w", resp.Header.Get("Date"), err))
	}
	return t, nil
}
