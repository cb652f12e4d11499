package executor

import (
	"crypto/sha256"

	"encoding/hex"
	"golang.org/x/crypto/argon2"
	"strings"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
)

// TaskInput is what one task's container is made from.
type TaskInput struct {
	App, Env, Host, TaskID string
	Rev                    planner.Revision
	// Epoch is the fencing epoch of the deploy lock held while creating it (0: none).
	Epoch uint64
	// Desired is the service's desired state, recorded on the task (nil: not recorded).
	Desired *providers.DesiredState
	// Replaces is the task this one takes the place of while that one cannot be stopped.
	Replaces string
	// Kind, Run, Attempt, Trigger and Started label a job run or a standalone task (see
	// providers.TaskMeta); they are zero for a service's task.
	Kind, Run, Trigger string
	Attempt            int
	Started            time.Time
}

// TaskSpec renders the container of one task of a revision.
func TaskSpec(in TaskInput) providers.TaskSpec {
	td, rev := in.Rev.Task, in.Rev
	labels := providers.EncodeTaskLabels(providers.TaskMeta{
		App: in.App, Env: in.Env, Service: rev.Service, Revision: rev.ID, TaskID: in.TaskID,
		Port: td.Port, Epoch: in.Epoch, Spec: &td, Desired: in.Desired,
		Replaces: in.Replaces, Kind: in.Kind, Run: in.Run, Attempt: in.Attempt, Trigger: in.Trigger, Started: in.Started,
	}, td.Labels)
	envs := map[string]string{}
	for k, v := range td.Variables {
		envs[k] = v
	}
	envs["DECK_APP"] = in.App
	envs["DECK_ENV"] = in.Env
	envs["DECK_SERVICE"] = rev.Service
	envs["DECK_REVISION"] = rev.ID
	envs["DECK_TASK_ID"] = in.TaskID
	envs["DECK_HOST"] = in.Host
	spec := providers.TaskSpec{
		Name:        ContainerName(in.App, in.Env, rev.Service, in.TaskID),
		Image:       td.Image,
		Command:     td.Command,
		Entrypoint:  td.Entrypoint,
		Env:         envs,
		Labels:      labels,
		Port:        td.Port,
		HostPort:    td.HostPort,
		CPUShares:   td.CPU,
		MemoryMiB:   td.Memory,
		StopTimeout: td.StopTimeout,
		Volumes:     hostVolumes(in.App, in.Env, td.Volumes),
		LogMaxSize:  td.LogMaxSize(),
	}
	for _, s := range td.Secrets {
		ts := providers.TaskSecret{Secret: SecretName(in.App, in.Env, rev.Service, s.Name, s.Digest)}
		if s.Type == "mount" {
			ts.File = s.Name
		} else {
			ts.Env = s.Name
		}
		spec.Secrets = append(spec.Secrets, ts)
	}
	if hc := td.Healthcheck; hc != nil && len(hc.Command) > 0 {
		spec.Healthcheck = hc.Command
	}
	return spec
}

// hostVolumes names each named volume APP.ENV.NAME on the host: the services of an app and
// environment share a volume by naming it alike, and two apps (or prod and staging on
// shared hosts) never do by accident. Dots, because names may hold dashes: env prod-eu's
// volume data must not be env prod's volume eu-data. Bind mounts are kept as they are.
func hostVolumes(app, env string, vols []manifest.Volume) []manifest.Volume {
	if len(vols) == 0 {
		return nil
	}
	out := make([]manifest.Volume, len(vols))
	for i, v := range vols {
		if v.Type == "volume" {
			v.Source = app + "." + env + "." + v.Source
		}
		out[i] = v
	}
	return out
}

// ContainerName is APP-ENV-SERVICE-TASKID: unique, and readable in `podman ps`.
func ContainerName(app, env, service, taskID string) string {
	return strings.Join([]string{app, env, service, taskID}, "-")
}

// SecretName is the Podman secret a secret value is stored under on a host:
// deck.<service digest>.<name digest>.<value digest>. Podman limits secret names to 64
// characters, so the parts are digests of fixed length (59 characters in all) whatever
// the app, environment, service and secret names add up to. The value digest is already
// salted with where the secret is used (SecretDigest).
func SecretName(app, env, service, name, digest string) string {
	return SecretPrefix(app, env, service) + shortDigest(name, 8) + "." + digest
}

// SecretPrefix is what every Podman secret of a service starts with.
func SecretPrefix(app, env, service string) string {
	return "deck." + shortDigest(app+"\x00"+env+"\x00"+service, 12) + "."
}

func shortDigest(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// SecretDigest identifies a secret value without revealing it. The digest is kept in labels
// and plans, so it must not be cheap to test guesses against: it is argon2id (OWASP's
// minimum: 19 MiB, 2 passes), salted with where the secret is used, so equal values of
// different secrets differ and no table can be precomputed. A strong secret is safe with
// any hash; this makes guessing a weak one cost about 20 ms a guess instead of nanoseconds.
func SecretDigest(app, env, service, name string, value []byte) string {
	salt := []byte("deck-secret\x00" + app + "\x00" + env + "\x00" + service + "\x00" + name)
	return hex.EncodeToString(argon2.IDKey(value, salt, 2, 19*1024, 1, 16))
}
