package podman

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	nettypes "go.podman.io/common/libnetwork/types"
	imgmanifest "go.podman.io/image/v5/manifest"

	"github.com/containers/podman/v5/pkg/specgen"
	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/deckhq/deck/providers"
)

// healthcheckTimeout bounds one run of a task's healthcheck command. Podman treats a
// zero timeout as "every run timed out", so one must be set.
const healthcheckTimeout = 30 * time.Second

// specGenerator translates a TaskSpec into Podman's container spec. Runtime and rlimits are
// left to the host's containers.conf: they are host configuration (and the 4.3 server
// mishandles both when sent in the spec).
func specGenerator(t providers.TaskSpec) (*specgen.SpecGenerator, error) {
	s := specgen.NewSpecGenerator(t.Image, false)
	s.Name = t.Name
	s.Command = t.Command
	s.Entrypoint = t.Entrypoint
	s.Env = t.Env
	s.Labels = t.Labels
	if err := addSecrets(s, t.Secrets); err != nil {
		return nil, err
	}
	if t.Port != 0 {
		if t.Port < 1 || t.Port > 65535 || t.HostPort < 0 || t.HostPort > 65535 {
			return nil, fmt.Errorf("port %d:%d out of range", t.HostPort, t.Port)
		}
		// HostPort 0 lets Podman pick a free port. HostIP stays empty, which binds every
		// address (the load balancer reaches the task at the host's address): an explicit
		// "0.0.0.0" makes netavark 1.x match only packets sent *to* 0.0.0.0, so nothing
		// would reach the container.
		s.PortMappings = []nettypes.PortMapping{{
			HostPort: uint16(t.HostPort), ContainerPort: uint16(t.Port), Protocol: "tcp",
		}}
	}
	if t.CPUShares > 0 || t.MemoryMiB > 0 {
		s.ResourceLimits = &rspec.LinuxResources{}
		if t.CPUShares > 0 {
			shares := uint64(t.CPUShares)
			s.ResourceLimits.CPU = &rspec.LinuxCPU{Shares: &shares}
		}
		if t.MemoryMiB > 0 {
			limit := t.MemoryMiB * 1024 * 1024
			s.ResourceLimits.Memory = &rspec.LinuxMemory{Limit: &limit}
		}
	}
	if t.StopTimeout > 0 {
		secs := stopSeconds(t.StopTimeout)
		s.StopTimeout = &secs
	}
	if t.LogMaxSize > 0 {
		// The host's log driver stays its own; conmon applies the size to k8s-file (the
		// default without systemd) and json-file. journald keeps its own limits.
		s.LogConfiguration = &specgen.LogConfig{Size: t.LogMaxSize}
	}
	if len(t.Healthcheck) > 0 {
		s.HealthConfig = healthConfig(t.Healthcheck)
	}
	for _, v := range t.Volumes {
		if !filepath.IsAbs(v.Target) {
			return nil, fmt.Errorf("volume target %q must be an absolute path", v.Target)
		}
		var opts []string
		if v.ReadOnly {
			opts = append(opts, "ro")
		}
		switch v.Type {
		case "volume":
			s.Volumes = append(s.Volumes, &specgen.NamedVolume{Name: v.Source, Dest: v.Target, Options: opts})
		case "bind":
			if !filepath.IsAbs(v.Source) {
				return nil, fmt.Errorf("bind mount source %q must be an absolute path", v.Source)
			}
			s.Mounts = append(s.Mounts, rspec.Mount{Type: "bind", Source: v.Source, Destination: v.Target,
				Options: append([]string{"rbind"}, opts...)})
		default:
			return nil, fmt.Errorf("volume %s: unknown type %q (want volume or bind)", v.Target, v.Type)
		}
	}
	return s, nil
}

// healthConfig stores the command as the container's healthcheck. Interval 0 keeps Podman
// from scheduling it itself (that needs systemd timers): deck runs it through HealthCheck.
// One failed run marks the container unhealthy; deck's health gates do their own retrying.
func healthConfig(cmd []string) *imgmanifest.Schema2HealthConfig {
	test := cmd
	if cmd[0] != "CMD" && cmd[0] != "CMD-SHELL" {
		test = append([]string{"CMD"}, cmd...)
	}
	return &imgmanifest.Schema2HealthConfig{Test: test, Timeout: healthcheckTimeout, Retries: 1}
}

// secretDir is where Podman mounts file secrets whose target is a plain name.
const secretDir = "/run/secrets"

// addSecrets gives the container its secrets: as environment variables (EnvSecrets), or,
// when File is set, as the file /run/secrets/File (Secrets, Podman's "mount" type). File
// secrets are not shown by podman inspect; on 4.3 env secrets are, in Config.Env, in plain
// text (fixed in later Podman). Owner and mode are Podman's defaults, so the image's own
// user can read the file.
func addSecrets(s *specgen.SpecGenerator, secrets []providers.TaskSecret) error {
	for _, sec := range secrets {
		switch {
		case sec.Secret == "":
			return fmt.Errorf("a secret without a name (env %q, file %q)", sec.Env, sec.File)
		case (sec.Env == "") == (sec.File == ""):
			return fmt.Errorf("secret %s: set exactly one of env and file", sec.Secret)
		case sec.File != "":
			if err := validSecretFile(sec.File); err != nil {
				return fmt.Errorf("secret %s: %w", sec.Secret, err)
			}
			// A relative target is a name under /run/secrets (4.3 and later).
			s.Secrets = append(s.Secrets, specgen.Secret{Source: sec.Secret, Target: sec.File})
		default:
			if s.EnvSecrets == nil {
				s.EnvSecrets = map[string]string{}
			}
			// Keyed by the variable, valued by the secret's name.
			s.EnvSecrets[sec.Env] = sec.Secret
		}
	}
	return nil
}

// validSecretFile accepts a plain file name: the file lands directly in /run/secrets.
func validSecretFile(name string) error {
	if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("file %q must be a plain file name (it is mounted at %s/NAME)", name, secretDir)
	}
	return nil
}
