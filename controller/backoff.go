package controller

import (
	"sync"
	"time"
)

// backoff spaces out the attempts to start the tasks of a service whose tasks keep
// failing (ECS's task launch back-off): the first retry after base, then twice as long
// per consecutive failure, up to max. A service that succeeds starts over.
type backoff struct {
	base, max time.Duration
	now       func() time.Time
	mu        sync.Mutex
	services  map[string]*retryState
	again     time.Time // a reconcile to run soon (the deploy lock was held)
}

type retryState struct {
	failures int
	until    time.Time
}

func newBackoff(base, max time.Duration, now func() time.Time) *backoff {
	return &backoff{base: base, max: max, now: now, services: map[string]*retryState{}}
}

// failed counts a failure of service and returns how many in a row, and the delay
// before it is tried again.
func (b *backoff) failed(service string) (int, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.services[service]
	if st == nil {
		st = &retryState{}
		b.services[service] = st
	}
	st.failures++
	wait := b.delay(st.failures)
	st.until = b.now().Add(wait)
	return st.failures, wait
}

// delay is the wait after the nth failure in a row: base, then twice as long each time,
// up to max.
func (b *backoff) delay(n int) time.Duration {
	wait := b.base
	for i := 1; i < n && wait < b.max; i++ {
		wait *= 2
	}
	return min(wait, b.max)
}

// hold keeps service waiting for the delay of its nth failure in a row (without counting
// one) and returns that delay.
func (b *backoff) hold(service string, n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	wait := b.delay(n)
	st := b.services[service]
	if st == nil {
		st = &retryState{}
		b.services[service] = st
	}
	st.until = b.now().Add(wait)
	return wait
}

// succeeded resets service; true when it had been failing.
func (b *backoff) succeeded(service string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, was := b.services[service]
	delete(b.services, service)
	return was
}

// waiting is how long service still waits before it is tried again (0: not waiting).
func (b *backoff) waiting(service string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.services[service]; st != nil {
		return max(st.until.Sub(b.now()), 0)
	}
	return 0
}

// failures is how many times in a row service failed.
func (b *backoff) failures(service string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.services[service]; st != nil {
		return st.failures
	}
	return 0
}

// soon asks for a reconcile after d.
func (b *backoff) soon(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.again = b.now().Add(d)
}

// next is the earliest time still to come at which a service's delay ends or a soon
// reconcile is due (zero when none).
func (b *backoff) next() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(b.again)
	for _, st := range b.services {
		consider(st.until)
	}
	return next
}
