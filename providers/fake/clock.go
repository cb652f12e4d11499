package fake

import (
	"sync/atomic"
	"time"
)

// Clock is a clock a test moves by hand. Hosts share it with SetClock(c.Now), so a lease
// or a record's age can be tested without waiting.
type Clock struct {
	base   time.Time
	offset atomic.Int64 // how far the clock is past base, in ns
}

// NewClock returns a clock that reads base until it is advanced.
func NewClock(base time.Time) *Clock { return &Clock{base: base} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { return c.base.Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
