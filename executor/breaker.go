package executor

import (
	"errors"
	"fmt"
	"sync"
)

// The circuit breaker, as ECS defines it: a rollout whose new tasks fail (do not start,
// exit, are OOM-killed, or fail health within their grace period) starts replacements
// for them until Threshold tasks have failed; then it stops. The tasks it started in the
// tripping wave are removed, so the old tasks that wave was to replace keep serving and
// nothing of the failed revision is routed; what earlier waves put in place is left for
// the caller's rollback.
type breaker struct {
	mu        sync.Mutex
	threshold int
	failures  []error
	tripped   bool
}

func newBreaker(threshold int) *breaker { return &breaker{threshold: threshold} }

// fail counts a failed task and reports whether a replacement may be started. A task that
// failed because the deploy lock was lost is no failure of the revision: it is not
// counted, so a lost lock is never reported as a tripped breaker, and nothing retries.
func (b *breaker) fail(err error) (retry bool) {
	if errors.Is(err, ErrLockLost) {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = append(b.failures, err)
	if b.threshold <= 0 {
		return false // no breaker: the first failure fails the rollout, as before
	}
	if len(b.failures) >= b.threshold {
		b.tripped = true
	}
	return !b.tripped
}

func (b *breaker) isTripped() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tripped
}

// BreakerError is a service's rollout stopped by its circuit breaker. It unwraps to the
// failed tasks (Failures finds them).
type BreakerError struct {
	Service   string
	Threshold int
	Failed    []error
}

func (e *BreakerError) Error() string {
	return fmt.Sprintf("circuit breaker tripped: %d new tasks failed (threshold %d); the rollout stopped", len(e.Failed), e.Threshold)
}

func (e *BreakerError) Unwrap() []error { return e.Failed }

func (b *breaker) err(service string) *BreakerError {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &BreakerError{Service: service, Threshold: b.threshold, Failed: append([]error(nil), b.failures...)}
}
