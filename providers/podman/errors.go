package podman

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/deckhq/deck/providers"
)

// Every error a Host returns is a *providers.HostError that names the host, says what deck
// was doing in plain English ("listing containers", "stopping container 3f2a9c1b7e4d"), and
// says why, so a user reading it knows where to look:
//
//	host h2 (ssh://root@10.77.0.12/run/podman/podman.sock): listing containers: unreachable: no answer within 3s
//
// A host that did not answer wraps providers.ErrUnreachable; a missing object wraps
// providers.ErrNotFound; a name that is taken wraps providers.ErrExists.

// apiStatus returns the HTTP status of an error the Podman API answered with, or 0.
func apiStatus(err error) int {
	var model *errorhandling.ErrorModel
	if errors.As(err, &model) {
		return model.ResponseCode
	}
	return 0
}

// exitRace reports the error Podman answers when a container's process exits while the
// call reads it (/proc/PID/... "no such process"): the state is changing, not wrong.
func exitRace(err error) bool {
	return apiStatus(err) == http.StatusInternalServerError && strings.Contains(errorText(err), "no such process")
}

// wrap turns the error of an API call made under ctx (from h.call) into a HostError for op.
func (h *Host) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if why := h.unreachable(ctx, err); why != "" {
		return h.fail(op, &unreachableError{why: why, cause: err})
	}
	if isNotFound(err) {
		return h.fail(op, fmt.Errorf("%w (%s)", providers.ErrNotFound, errorText(err)))
	}
	return h.fail(op, err)
}

// fail wraps err as a HostError naming this host and what deck was doing.
func (h *Host) fail(op string, err error) error {
	return &providers.HostError{Host: h.spec.Name, URL: h.spec.URL, Op: op, Err: err}
}

// unreachableError reads "unreachable: WHY" and still unwraps to its cause, so callers can
// test for context.DeadlineExceeded and the like.
type unreachableError struct {
	why   string
	cause error
}

func (e *unreachableError) Error() string   { return providers.ErrUnreachable.Error() + ": " + e.why }
func (e *unreachableError) Unwrap() []error { return []error{providers.ErrUnreachable, e.cause} }

// unreachable says why err means the host did not answer, or "" when it did (the API
// answered, even with an error) or when err is not about the connection at all.
func (h *Host) unreachable(ctx context.Context, err error) string {
	if apiStatus(err) != 0 {
		return ""
	}
	// When the ssh connection is gone, that is the real cause: the bindings only see the
	// local end of the tunnel vanish.
	if h.tunnel != nil {
		if lost := h.tunnel.lostReason(); lost != nil {
			return lost.Error()
		}
	}
	if ctx.Err() != nil || isTimeout(err) || errors.Is(err, context.Canceled) {
		return noAnswer(ctx, err)
	}
	why := ""
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		why = opErr.Error() // "dial unix /run/podman/podman.sock: connect: connection refused"
	} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		why = "the connection closed before an answer came"
	}
	if why != "" && h.mux != "" {
		// The local end is the mux's socket: what the user needs to know is that the
		// connection deck shares between its commands is gone (the mux exits when the
		// host stops answering; the next command dials the host itself).
		return "the shared ssh connection (deck ssh-mux) closed before an answer came"
	}
	return why
}

// isTimeout recognises a deadline that ran out, the context's or a socket's: a dial under a
// context deadline can fail with the socket's "i/o timeout" a moment before the context
// itself reports it.
func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout())
}

// noAnswer says how long deck waited, from the start of the call to its deadline (or to the
// moment it was canceled).
func noAnswer(ctx context.Context, err error) string {
	start, ok := callStart(ctx)
	deadline, hasDeadline := ctx.Deadline()
	switch {
	case !ok:
		return "no answer in time (" + rootCause(err).Error() + ")"
	case errors.Is(ctx.Err(), context.Canceled) || (ctx.Err() == nil && errors.Is(err, context.Canceled)):
		return "no answer within " + roundWait(time.Since(start)) + " (the call was canceled)"
	case hasDeadline:
		return "no answer within " + roundWait(deadline.Sub(start))
	default:
		return "no answer within " + roundWait(time.Since(start))
	}
}

// roundWait prints a wait the way a person would say it: 3s, 1.5s, 250ms.
func roundWait(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		d = d.Round(time.Second)
	case d >= 100*time.Millisecond:
		d = d.Round(100 * time.Millisecond)
	default:
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

// rootCause unwraps err down to its innermost single error.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
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

// isNameInUse recognises the answer to creating a secret under a taken name. Podman 4.3
// sends it as HTTP 500 "NAME: secret name in use" (checked on this server), newer servers
// may send 409; both are matched by status and text.
func isNameInUse(err error) bool {
	status := apiStatus(err)
	if status != http.StatusConflict && status != http.StatusInternalServerError {
		return false
	}
	msg := strings.ToLower(errorText(err))
	return strings.Contains(msg, "name in use") || strings.Contains(msg, "already exists") ||
		(status == http.StatusConflict && strings.Contains(msg, "in use"))
}

func errorText(err error) string {
	var model *errorhandling.ErrorModel
	if errors.As(err, &model) && model.Message != "" {
		return model.Message
	}
	return err.Error()
}

// shortID shortens a 64-hex container ID to the 12 characters Podman itself prints, for
// messages; anything else (a name) is kept whole.
func shortID(id string) string {
	if len(id) == 64 && strings.Trim(id, "0123456789abcdef") == "" {
		return id[:12]
	}
	return id
}
