package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
)

// A job's schedule counts from its newest run's start. The run containers say when, but
// only while their host answers: a controller that takes over while the host of the last
// run is down (the old leader went down with it) would not see that run, count from an
// older one or from the deploy, and start the job again. So each run's start is also
// recorded on every reachable host once its container is created, and the schedule
// counts from the later of the two.

const (
	jobStartPrefix   = "deck-jobstart."
	labelJobStart    = "deck.job-start"
	jobStartTimeForm = time.RFC3339Nano
)

// jobRecordPrefix names job's records of one kind (jobStartPrefix, jobStopPrefix); a
// digest keeps any app, environment and job name within Podman's limits.
func jobRecordPrefix(kind, app, env, job string) string {
	sum := sha256.Sum256([]byte(app + "\x00" + env + "\x00" + job))
	return kind + hex.EncodeToString(sum[:])[:16] + ".g"
}

// writeJobRecord writes job's record of kind, holding key=value, on every reachable host.
// It fails only when no host took it: what it records is not held back by one host among
// several. what says what it records, for the error.
func writeJobRecord(ctx context.Context, s *Session, job, kind, key, value, what string) error {
	app, env := s.T.App.Name, s.T.Env.Name
	var mu sync.Mutex
	var errs []error
	took := 0
	forHosts(s, func(h providers.Host) {
		labels := map[string]string{labelApp: app, labelEnv: env, labelService: job, key: value}
		err := writeRecord(ctx, s, h, jobRecordPrefix(kind, app, env, job), labels)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("host %s: %w", h.Name(), err))
			return
		}
		took++
	})
	if took == 0 && len(errs) > 0 {
		return fmt.Errorf("recording %s: %w", what, errors.Join(errs...))
	}
	return nil
}

// eachJobRecord calls fn, one call at a time, with the value of key of each of job's
// records of kind on the reachable hosts. A host that cannot be read is skipped.
func eachJobRecord(ctx context.Context, s *Session, job, kind, key string, fn func(value string)) {
	app, env := s.T.App.Name, s.T.Env.Name
	prefix := jobRecordPrefix(kind, app, env, job)
	var mu sync.Mutex
	forHosts(s, func(h providers.Host) {
		recs, err := h.ListRecords(ctx, prefix)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			if r.Labels[labelApp] == app && r.Labels[labelEnv] == env && r.Labels[labelService] == job {
				fn(r.Labels[key])
			}
		}
	})
}

// recordJobStart records at as the start of job's newest run on every reachable host.
func recordJobStart(ctx context.Context, s *Session, job string, at time.Time) error {
	return writeJobRecord(ctx, s, job, jobStartPrefix, labelJobStart, at.UTC().Format(jobStartTimeForm),
		"the start of a run of job "+job)
}

// recordedJobStart is the newest run start recorded for job on the reachable hosts, or the
// zero time when none is (or none could be read).
func recordedJobStart(ctx context.Context, s *Session, job string) time.Time {
	var newest time.Time
	eachJobRecord(ctx, s, job, jobStartPrefix, labelJobStart, func(v string) {
		if t, err := time.Parse(jobStartTimeForm, v); err == nil && t.After(newest) {
			newest = t
		}
	})
	return newest
}
