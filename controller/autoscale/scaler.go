package autoscale

import (
	"context"
	"fmt"
	"time"
)

// Scaler autoscales one service: the controller makes one for each service with a count
// range, runs its Sampler (Run), and calls Step in its loop.
type Scaler struct {
	Policy  Policy
	Sampler *Sampler
	// Apply sets the service's new desired count and records why: pipeline.SetDesiredCount,
	// called holding the deploy lock.
	Apply func(ctx context.Context, count int, reason string) error
	// RecordNoScaleIn keeps why the service does not scale in ("" when nothing holds it
	// back): pipeline.RecordNoScaleIn. Step calls it only when the reason changed.
	RecordNoScaleIn func(ctx context.Context, reason string) error

	history   History
	noScaleIn string // as last recorded
}

// Resume carries on from what the hosts keep (pipeline.ReadScaleStates): the times of the
// last scale-out and scale-in, for the cooldowns, and the reason recorded last.
func (s *Scaler) Resume(lastOut, lastIn time.Time, noScaleIn string) {
	s.history, s.noScaleIn = History{LastOut: lastOut, LastIn: lastIn}, noScaleIn
}

// History is when the service last scaled, as this Scaler knows it.
func (s *Scaler) History() History { return s.history }

// Step decides from the window of metrics that ends at now, with current the service's
// desired count, and applies the decision. The decision is returned for the caller to log
// (its Reason; "" in a steady state); an error says what could not be written.
func (s *Scaler) Step(ctx context.Context, current int, deploying bool, now time.Time) (Decision, error) {
	d := Decide(s.Policy, current, s.Sampler.Metrics(now), s.history, deploying, now)
	if d.Action != None {
		if err := s.Apply(ctx, d.Count, d.Reason); err != nil {
			return d, fmt.Errorf("scaling service %s from %d to %d tasks: %w", s.Policy.Service, current, d.Count, err)
		}
		s.history = s.history.Record(d, now)
		s.Sampler.Forget(now)
		if d.Action == In {
			s.noScaleIn = "" // SetDesiredCount clears it with a scale-in
		}
	}
	if d.NoScaleInReason != s.noScaleIn {
		if err := s.RecordNoScaleIn(ctx, d.NoScaleInReason); err != nil {
			return d, fmt.Errorf("recording why service %s does not scale in: %w", s.Policy.Service, err)
		}
		s.noScaleIn = d.NoScaleInReason
	}
	return d, nil
}
