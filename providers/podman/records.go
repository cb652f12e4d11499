package podman

import (
	"context"
	"errors"
	"time"

	"github.com/deckhq/deck/providers"
)

var errPending = errors.New("not available on this provider build")

// Logs returns the container's last lines.
func (h *Host) Logs(ctx context.Context, containerID string, tail int) ([]string, error) {
	return nil, h.fail("logs", errPending)
}

// CreateRecord creates a record.
func (h *Host) CreateRecord(ctx context.Context, name string, labels map[string]string) error {
	return h.fail("create record", errPending)
}

// ListRecords lists records.
func (h *Host) ListRecords(ctx context.Context, prefix string) ([]providers.Record, error) {
	return nil, h.fail("list records", errPending)
}

// RemoveRecord removes a record.
func (h *Host) RemoveRecord(ctx context.Context, name string) error {
	return h.fail("remove record", errPending)
}

// Now reads the host's clock.
func (h *Host) Now(ctx context.Context) (time.Time, error) {
	return time.Time{}, h.fail("now", errPending)
}
