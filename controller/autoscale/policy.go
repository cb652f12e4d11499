package autoscale

import (
	"time"

	"github.com/deckhq/deck/manifest"
)

// Policy is one service's target tracking, from its manifest's count.
type Policy struct {
	// Service names the service in reasons; PolicyOf leaves it for the caller to set.
	Service  string
	Min, Max int
	// Targets; 0 = not tracked. Requests is in flight per task.
	CPUPercent, MemoryPercent, Requests int
	CooldownIn, CooldownOut             time.Duration
}

// PolicyOf is the policy of a count with a range and targets; false for a fixed count.
func PolicyOf(c manifest.Count) (Policy, bool) {
	if c.Range == nil || c.Scale == nil {
		return Policy{}, false
	}
	sc := c.Scale
	p := Policy{Min: c.Range.Min, Max: c.Range.Max, CPUPercent: sc.CPUPercent, MemoryPercent: sc.MemoryPercent,
		Requests: sc.RequestsPerTask, CooldownIn: sc.CooldownIn, CooldownOut: sc.CooldownOut}
	return p, p.CPUPercent > 0 || p.MemoryPercent > 0 || p.Requests > 0
}

// Metric is one metric over the sampling window: a percent, or requests in flight per
// task. The zero Metric is missing.
type Metric struct {
	Value float64
	OK    bool
	// Missing says why there is no value, when !OK.
	Missing string
	// Readings is how many readings the value is the mean of.
	Readings int
}

// Metrics are a service's metrics over the sampling window.
type Metrics struct {
	CPU, Memory, Requests Metric
}

// History is when the service last scaled (zero: never), by the clock Decide is given.
type History struct {
	LastOut time.Time
	LastIn  time.Time
}

// Action is what a decision does to the count.
type Action string

const (
	None Action = "none"
	Out  Action = "out"
	In   Action = "in"
)

// Decision is Decide's answer: the count the service should have (the current one for
// None), and why, in ECS-style sentences users can grep for.
type Decision struct {
	Count  int
	Action Action
	// Reason says what was done ("(service web) scaled out from 2 to 4 tasks: cpu 145% of
	// target 70%"), or, for None, what held a wanted change back or why nothing could be
	// decided; "" in a steady state.
	Reason string
	// NoScaleInReason says why the service does not scale in ("(service web) does not
	// scale in: cpu 65% is above 90% of its target 70%"); "" when it scales in.
	NoScaleInReason string
}

// Record updates the history with a decision applied at now.
func (h History) Record(d Decision, now time.Time) History {
	switch d.Action {
	case Out:
		h.LastOut = now
	case In:
		h.LastIn = now
	}
	return h
}
