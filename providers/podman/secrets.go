package podman

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/secrets"
)

// EnsureSecret creates the secret unless one of that name exists. Names carry a digest of
// the value, so an existing name holds the same value. The value never appears in errors.
func (h *Host) EnsureSecret(ctx context.Context, name string, value []byte) error {
	cctx := h.call(ctx)
	op := "creating secret " + name
	_, err := secrets.Inspect(cctx, name, nil)
	if err == nil {
		return nil
	}
	if apiStatus(err) != http.StatusNotFound {
		return h.wrap(cctx, op, err)
	}
	_, err = secrets.Create(cctx, bytes.NewReader(value), new(secrets.CreateOptions).WithName(name))
	if err != nil && isNameInUse(err) {
		// Created concurrently by another deck: same name, same value.
		return nil
	}
	return h.wrap(cctx, op, err)
}

// ListSecrets returns the names of the secrets starting with prefix, sorted.
func (h *Host) ListSecrets(ctx context.Context, prefix string) ([]string, error) {
	cctx := h.call(ctx)
	list, err := secrets.List(cctx, nil)
	if err != nil {
		return nil, h.wrap(cctx, "listing secrets", err)
	}
	var out []string
	for _, s := range list {
		if strings.HasPrefix(s.Spec.Name, prefix) {
			out = append(out, s.Spec.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// RemoveSecret deletes the secret; like the fake, a missing secret is not an error.
func (h *Host) RemoveSecret(ctx context.Context, name string) error {
	cctx := h.call(ctx)
	err := secrets.Remove(cctx, name)
	if isNotFound(err) {
		return nil
	}
	return h.wrap(cctx, "removing secret "+name, err)
}
