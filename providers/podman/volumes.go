package podman

import (
	"context"
	"fmt"
	"net/http"

	"github.com/containers/podman/v5/pkg/bindings/volumes"

	"github.com/deckhq/deck/providers"
)

// RemoveVolume deletes a named volume and its data. Podman refuses a volume that a
// container uses, running or not (409: "volume NAME is being used by the following
// container(s): ID: volume is being used"); that is ErrInUse, with Podman's words, which
// name the containers. Never forced: a forced remove would remove those containers too.
func (h *Host) RemoveVolume(ctx context.Context, name string) error {
	cctx := h.call(ctx)
	op := "removing volume " + name
	err := volumes.Remove(cctx, name, nil)
	if err != nil && apiStatus(err) == http.StatusConflict {
		return h.fail(op, fmt.Errorf("%w: %s", providers.ErrInUse, errorText(err)))
	}
	return h.wrap(cctx, op, err)
}
