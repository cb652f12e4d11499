package podman

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/deckhq/deck/providers"
)

// apiStatus returns the HTTP status of an error the Podman API answered with, or 0.
func apiStatus(err error) int {
	var model *errorhandling.ErrorModel
	if errors.As(err, &model) {
		return model.ResponseCode
	}
	return 0
}

// wrap turns an API error into a HostError; a 404 also wraps providers.ErrNotFound so
// callers can test for it with errors.Is, as with the fake provider.
func (h *Host) wrap(op, what string, err error) error {
	if err == nil {
		return nil
	}
	if isNotFound(err) {
		err = fmt.Errorf("%s: %w (%s)", what, providers.ErrNotFound, errorText(err))
	} else if what != "" {
		err = fmt.Errorf("%s: %w", what, err)
	}
	return h.fail(op, err)
}

// notFoundMessages are libpod's texts for missing objects. Some calls (create with a missing
// image or secret) answer them with status 500 rather than 404.
var notFoundMessages = []string{"no such container", "no such image", "image not known", "no such secret", "no such volume"}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	if apiStatus(err) == http.StatusNotFound {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, m := range notFoundMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

func errorText(err error) string {
	var model *errorhandling.ErrorModel
	if errors.As(err, &model) && model.Message != "" {
		return model.Message
	}
	return err.Error()
}
