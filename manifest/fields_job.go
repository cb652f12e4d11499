package manifest

import "gopkg.in/yaml.v3"

// A Scheduled Job's keys, with Copilot's names: on.schedule, retries, timeout, and
// concurrency (deck's: how many runs may go at once).
const (
	maxRetries     = 10
	maxConcurrency = 100
)

// jobKeys are the keys only a Scheduled Job takes, with what each one is, for the error
// a service that has one gets.
var jobKeys = []struct{ key, what string }{
	{"on", "a schedule"}, {"schedule", "a schedule"}, {"retries", "retries"},
	{"timeout", "a timeout"}, {"concurrency", "a concurrency"},
}

// on reads Copilot's on: {schedule: ...}. The top-level schedule key, deck's first
// spelling, is still read (see validateJob).
func (s *serviceLoader) on(n *yaml.Node, path string) {
	s.mapping(n, path, []field{
		{"schedule", func(n *yaml.Node, p string) { s.spec.Schedule, _ = s.str(n, p) }},
	})
}

// validateJob checks a Scheduled Job's schedule and fills its defaults, and refuses the
// job keys on the other types.
func (s *serviceLoader) validateJob() {
	sp := &s.spec
	if sp.Type != ScheduledJob {
		if sp.Type == "" {
			return // the type is reported already
		}
		for _, k := range jobKeys {
			if s.has(k.key) {
				s.at(k.key, "only a Scheduled Job has %s, and this is a %s; remove %s, or use type: %s", k.what, sp.Type, k.key, ScheduledJob)
			}
		}
		return
	}
	if s.has("count") {
		s.at("count", "a Scheduled Job runs one task each time it fires; remove count")
	}
	if s.has("deployment") {
		s.at("deployment", "a Scheduled Job runs to completion each time it fires, and a new revision is used from its next run: there is no rollout to configure; remove deployment")
	}
	if path := s.schedulePath(); path != "" {
		if _, err := ParseSchedule(sp.Schedule); err != nil {
			s.at(path, "%s", err)
		}
	}
	if sp.Concurrency == 0 {
		sp.Concurrency = 1
	}
	// A job runs to completion; there is nothing to roll.
	sp.Count = Count{Value: 1}
	sp.Deployment = rollingPresets["default"]
}

// schedulePath is where the job's schedule was given (on.schedule, or schedule), or ""
// when it is missing or given twice (both reported).
func (s *serviceLoader) schedulePath() string {
	top, on := s.has("schedule"), s.has("on.schedule")
	switch {
	case top && on:
		s.at("schedule", "the schedule is given twice, as schedule and as on.schedule; keep on.schedule")
		return ""
	case top:
		return "schedule"
	case on:
		return "on.schedule"
	}
	s.at("on.schedule", `a Scheduled Job needs a schedule; want on: {schedule: "@daily"}, a cron expression such as "0 3 * * *", or "@every 30m"`)
	return ""
}
