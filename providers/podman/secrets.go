package podman

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/secrets"
	"github.com/containers/podman/v5/pkg/errorhandling"
)

// EnsureSecret creates the secret unless one of that name exists. Names carry a digest of
// the value, so an existing name holds the same value. The value never appears in errors.
func (h *Host) EnsureSecret(ctx context.Context, name string, value []byte) error {
	cctx := h.call(ctx)
	_, err := secrets.Inspect(cctx, name, nil)
	if err == nil {
		return nil
	}
	if apiStatus(err) != http.StatusNotFound {
		return h.wrap("create secret", "secret "+name, err)
	}
	_, err = secrets.Create(cctx, bytes.NewReader(value), new(secrets.CreateOptions).WithName(name))
	if err != nil && apiStatus(err) == http.StatusConflict {
		// Created concurrently by another deck: same name, same value.
		return nil
	}
	return h.wrap("create secret", "secret "+name, err)
}

// ListSecrets returns the names of the secrets starting with prefix, sorted.
func (h *Host) ListSecrets(ctx context.Context, prefix string) ([]string, error) {
	list, err := secrets.List(h.call(ctx), nil)
	if err != nil {
		return nil, h.wrap("list secrets", "", err)
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
	err := secrets.Remove(h.call(ctx), name)
	if isNotFound(err) {
		return nil
	}
	return h.wrap("remove secret", "secret "+name, err)
}

// notFoundError is what the API would answer for a missing object.
func notFoundError() error {
	return &errorhandling.ErrorModel{Message: "no such object", ResponseCode: http.StatusNotFound}
}
