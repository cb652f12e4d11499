package manifest

import (
	"strings"
	"time"
)

// WorkloadType is a service's kind, as in Copilot.
type WorkloadType string

const (
	LoadBalancedWebService WorkloadType = "Load Balanced Web Service"
	BackendService         WorkloadType = "Backend Service"
	WorkerService          WorkloadType = "Worker Service"
	ScheduledJob           WorkloadType = "Scheduled Job"
)

// WorkloadTypes lists the valid types in the order they are offered to users.
var WorkloadTypes = []WorkloadType{LoadBalancedWebService, BackendService, WorkerService, ScheduledJob}

// App is the app file (deck.yaml): the app's name, its environments and its services.
type App struct {
	Name         string                  `json:"name"`
	File         string                  `json:"file"` // path of deck.yaml as given
	Dir          string                  `json:"dir"`  // directory holding deck.yaml; relative paths resolve from here
	Environments map[string]*Environment `json:"environments"`
	// ServiceFiles are the service manifest paths, relative to Dir (default: deck/*.yaml).
	ServiceFiles []string `json:"service_files"`

	// lookupEnv is the lookup LoadApp was given, kept for the implicit local environment.
	lookupEnv func(string) (string, bool)
	// deferred holds, per environment, the errors that depend on the machine deck runs on
	// (unset ${VAR}s, a missing hosts_file or ssh identity). They are reported only when that environment
	// is chosen, so deploying to test does not need prod's variables.
	deferred map[string]ErrorList
	// fileErrs are the problems finding the service manifests (a glob that matches nothing,
	// a dangling symbolic link), reported with the services rather than with deck.yaml.
	fileErrs ErrorList
}

// Environment is a named set of Podman hosts.
type Environment struct {
	Name  string     `json:"name"`
	Hosts []HostSpec `json:"hosts"`
	// LoadBalancers front the environment's Load Balanced Web Services; every one of them
	// gets the same routes (several give redundancy). Empty: services are reached at their
	// tasks' published ports only.
	LoadBalancers []LoadBalancerSpec `json:"load_balancers,omitempty"`
	// Controller is how deck controller runs this environment (defaults filled).
	Controller ControllerSpec `json:"controller"`
	// Implicit is true when no environment was configured and deck uses the local socket.
	Implicit bool `json:"implicit,omitempty"`
}

// LoadBalancerSpec names one load balancer of an environment and how deck reaches it.
type LoadBalancerSpec struct {
	Name string `json:"name"`
	// Host is the environment host that runs it. deck reaches its admin API through its
	// connection to that host (the unix socket Admin, locally or through the ssh tunnel),
	// so the admin API is never exposed on a network.
	Host string `json:"host"`
	// Provider is LBCaddy (the default) or LBHAProxy.
	Provider string `json:"provider"`
	// Listen is the address clients use, host:port (default: the host's address, port 80).
	Listen string `json:"listen"`
	// Admin is the absolute path of the admin API's unix socket on Host.
	Admin string `json:"admin"`
}

// Load balancer providers.
const (
	LBCaddy   = "caddy"
	LBHAProxy = "haproxy"
)

// HostSpec is one Podman API endpoint.
type HostSpec struct {
	Name string `json:"name"`
	// URL is unix:///path/podman.sock or ssh://user@host[:port]/path/podman.sock.
	URL string `json:"url"`
	// Address is where the host's published ports are reached (default: the ssh host, or 127.0.0.1).
	Address string `json:"address"`
	// Identity is the ssh private key file; KnownHosts the known_hosts file that must hold the host key.
	Identity   string            `json:"identity,omitempty"`
	KnownHosts string            `json:"known_hosts,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Reserved capacity is kept back from placement (cpu in ECS units, memory in MiB).
	Reserved Resources `json:"reserved"`
	// Capacity, when set, replaces what podman info reports.
	Capacity *Resources `json:"capacity,omitempty"`
}

// Resources are cpu in ECS units (1024 = 1 vCPU) and memory in MiB.
type Resources struct {
	CPU    int64 `json:"cpu"`
	Memory int64 `json:"memory"`
}

// ServiceSpec is one service of one environment, with overrides applied and defaults filled.
type ServiceSpec struct {
	App  string       `json:"app"`
	Env  string       `json:"env"`
	Name string       `json:"name"`
	Type WorkloadType `json:"type"`
	File string       `json:"file"` // the manifest it came from

	Image      ImageSpec  `json:"image"`
	Task       TaskDef    `json:"task"`
	Count      Count      `json:"count"`
	Deployment Deployment `json:"deployment"`
	Placement  Placement  `json:"placement"`
	Secrets    []Secret   `json:"secrets,omitempty"`
	Schedule   string     `json:"schedule,omitempty"` // Scheduled Job only: cron expression or @every/@hourly...
	// Retries, Timeout and Concurrency are a Scheduled Job's run settings (zero for the
	// other types): a failed run is tried again up to Retries times, a run still going
	// after Timeout (0: none) is stopped, and at most Concurrency runs go at once (1).
	Retries     int           `json:"retries,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	Concurrency int           `json:"concurrency,omitempty"`
	// HTTP is the route on the environment's load balancers (Load Balanced Web Service
	// only; nil for the other types). It is not part of the task definition: changing it
	// changes the route, never the tasks.
	HTTP *HTTP `json:"http,omitempty"`
}

// HTTP is a Load Balanced Web Service's route and target group, with Copilot's field names.
type HTTP struct {
	// Path is the path prefix the route matches (default "/": everything).
	Path string `json:"path"`
	// Aliases are the host names the route matches (http.alias); empty matches any.
	Aliases []string `json:"aliases,omitempty"`
	// DeregistrationDelay bounds how long a deregistered target drains its in-flight
	// requests before its task is stopped (default 60s).
	DeregistrationDelay time.Duration `json:"deregistration_delay"`
	// Stickiness keeps a client on one target with a cookie.
	Stickiness  bool              `json:"stickiness,omitempty"`
	Healthcheck TargetHealthcheck `json:"healthcheck"`
}

// TargetHealthcheck is the target group's health check. deck runs it itself before it
// registers a target (HealthyThreshold passes in a row); the load balancer's own active
// check (Interval, Timeout) is a safety net that takes failing targets out between deploys.
type TargetHealthcheck struct {
	Path               string        `json:"path"`          // default: the task's HTTP health check path, else "/"
	SuccessCodes       string        `json:"success_codes"` // default "200-399"
	HealthyThreshold   int           `json:"healthy_threshold"`
	UnhealthyThreshold int           `json:"unhealthy_threshold"`
	Interval           time.Duration `json:"interval"`
	Timeout            time.Duration `json:"timeout"`
	// GracePeriod is how long after its start a new task has to pass the check before it
	// counts as failed (ECS's health check grace period; default 60s).
	GracePeriod time.Duration `json:"grace_period"`
}

// ImageSpec says where the image comes from: built from a context, or an existing reference.
type ImageSpec struct {
	Build    *BuildSpec `json:"build,omitempty"`
	Location string     `json:"location,omitempty"`
}

// BuildSpec is a Containerfile build. Paths are absolute after loading.
type BuildSpec struct {
	Context       string            `json:"context"`
	Containerfile string            `json:"containerfile"`
	Args          map[string]string `json:"args,omitempty"`
}

// TaskDef is the part of a service that defines its containers, like an ECS task
// definition. A change to any field forces new tasks; it is what a revision hashes.
// Image is the resolved reference (filled from Location, or by the image builder).
type TaskDef struct {
	Image       string            `json:"image"`
	Port        int               `json:"port,omitempty"`      // container port; 0 = none
	HostPort    int               `json:"host_port,omitempty"` // fixed host port; 0 = random
	Command     []string          `json:"command,omitempty"`
	Entrypoint  []string          `json:"entrypoint,omitempty"`
	CPU         int64             `json:"cpu"`    // ECS units, applied as cpu shares
	Memory      int64             `json:"memory"` // MiB, a hard limit
	Variables   map[string]string `json:"variables,omitempty"`
	Secrets     []SecretRef       `json:"secrets,omitempty"`
	Healthcheck *Healthcheck      `json:"healthcheck,omitempty"`
	StopTimeout time.Duration     `json:"stop_timeout"`
	Labels      map[string]string `json:"labels,omitempty"`
	Volumes     []Volume          `json:"volumes,omitempty"`
	// Logging caps the task's log on its host. nil is deck's default (DefaultLogMaxSize):
	// the default is not written out, so the revisions of manifests without logging keep
	// the ids they had before it existed.
	Logging *Logging `json:"logging,omitempty"`
}

// Logging is how the host keeps a task's log.
type Logging struct {
	// MaxSize is the most bytes the task's log file holds on its host. A write that would
	// pass it starts the file again, empty (conmon's log-size-max, as Docker's max-size
	// with one file). deck logs reads what the file holds.
	MaxSize int64 `json:"max_size"`
}

// DefaultLogMaxSize is a task's log cap when its manifest sets none: 10 MB, as Kamal
// gives Docker. Without one, a task that logs fast fills its host's disk.
const DefaultLogMaxSize = 10_000_000

// LogMaxSize is the task's log cap in bytes: its own, else DefaultLogMaxSize.
func (td TaskDef) LogMaxSize() int64 {
	if td.Logging != nil && td.Logging.MaxSize > 0 {
		return td.Logging.MaxSize
	}
	return DefaultLogMaxSize
}

// Secret is a declared secret: how the container gets it and where its value comes from.
// The value itself is never held in a spec.
type Secret struct {
	Name    string `json:"name"`               // the environment variable, or the file under /run/secrets
	FromEnv string `json:"from_env,omitempty"` // read from this variable of deck's own environment
	File    string `json:"file,omitempty"`     // or read from this file (absolute after loading)
	// Type is "" (type: env, the default: an environment variable) or SecretMount (a file at
	// /run/secrets/NAME). env is kept as "" so that specs, and the revisions made from them,
	// are the same as before types existed.
	Type string `json:"type,omitempty"`
}

// SecretMount is the Secret.Type of a secret mounted as a file at /run/secrets/NAME.
const SecretMount = "mount"

// SecretRef is what a task definition keeps of a secret: its name, how it is exposed and a
// digest of its value, so a changed value makes a new revision without the value being
// stored anywhere. Type is set only for a mount, so the digest of a revision with env
// secrets is what it was before types existed.
type SecretRef struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Type   string `json:"type,omitempty"`
}

// Healthcheck is an HTTP path probed on the task's published port, or a command run in it.
type Healthcheck struct {
	Path        string        `json:"path,omitempty"`
	Command     []string      `json:"command,omitempty"`
	Interval    time.Duration `json:"interval"`
	Timeout     time.Duration `json:"timeout"`
	Retries     int           `json:"retries"`
	StartPeriod time.Duration `json:"start_period"`
}

// Volume is a named volume or a bind mount.
type Volume struct {
	Type     string `json:"type"`   // "volume" or "bind"
	Source   string `json:"source"` // volume name, or absolute host path for bind
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Count is the desired number of tasks: a number, or a range with scaling targets.
type Count struct {
	// Value is the desired count now. For a range it is Range.Min as the manifest says;
	// a deploy keeps the count the autoscaler recorded instead, clamped to the range.
	Value int           `json:"value"`
	Range *CountRange   `json:"range,omitempty"`
	Scale *ScaleTargets `json:"scale,omitempty"`
}

// CountRange bounds autoscaling.
type CountRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// ScaleTargets are target-tracking goals, with Copilot's names: the controller scales the
// service within its range to keep each metric near its target. Zero means not tracked.
type ScaleTargets struct {
	// CPUPercent is CPU used relative to the task's cpu reservation (cpu / 1024 vCPUs),
	// averaged over the service's tasks, as ECS's CPUUtilization is.
	CPUPercent int `json:"cpu_percentage,omitempty"`
	// MemoryPercent is memory used relative to the task's memory limit, averaged over tasks.
	MemoryPercent int `json:"memory_percentage,omitempty"`
	// RequestsPerTask is the average number of requests in flight per task, as the load
	// balancers count them (Caddy 2.6 counts nothing else per target).
	RequestsPerTask int `json:"requests,omitempty"`
	// CooldownIn is how long after any scaling action the service may scale in;
	// CooldownOut how long after a scale-out it may scale out again.
	CooldownIn  time.Duration `json:"cooldown_in"`
	CooldownOut time.Duration `json:"cooldown_out"`
}

// Deployment holds ECS rolling limits, in percent of the desired count.
type Deployment struct {
	Strategy          string `json:"strategy"` // "default" (100/200), "recreate" (0/100) or "custom"
	MinHealthyPercent int    `json:"min_healthy_percent"`
	MaxPercent        int    `json:"max_percent"`
	// MinHealthyTime is how long a new task that replaces a task of another revision must
	// stay running and healthy, once it has passed its health check, before it takes the
	// old task's place (Nomad's min_healthy_time, Swarm's update monitor): a revision whose
	// tasks crash seconds after they pass fails its rollout, while the old tasks serve.
	// 0 turns the wait off. Desired states recorded before it existed read 0.
	MinHealthyTime time.Duration `json:"min_healthy_time,omitempty"`
	// CircuitBreaker stops a rollout whose tasks keep failing.
	CircuitBreaker CircuitBreaker `json:"circuit_breaker"`
}

// CircuitBreaker is ECS's deployment circuit breaker: once Threshold new tasks have failed
// (failed to start, exited, were OOM-killed or failed health within their grace period)
// the rollout stops and, with Rollback, the service goes back to its last completed
// revision. Threshold 0 means ECS's: half the desired count, clamped to [3, 200].
type CircuitBreaker struct {
	Threshold int  `json:"threshold,omitempty"`
	Rollback  bool `json:"rollback"`
}

// BreakerThreshold is the number of failed tasks that trips the breaker of a rollout to count tasks.
func (c CircuitBreaker) BreakerThreshold(count int) int {
	if c.Threshold > 0 {
		return c.Threshold
	}
	return min(max((count+1)/2, 3), 200)
}

// Placement chooses hosts: spread (default) or binpack, filtered by constraints.
type Placement struct {
	Strategy string `json:"strategy"` // "spread" or "binpack"
	// SpreadBy lists host attributes to spread across, after spreading across hosts.
	SpreadBy    []string     `json:"spread_by,omitempty"`
	Constraints []Constraint `json:"constraints,omitempty"`
}

// Constraint restricts the hosts a task may run on.
type Constraint struct {
	// Kind is "distinct_host", "equals" or "in".
	Kind      string   `json:"kind"`
	Attribute string   `json:"attribute,omitempty"`
	Values    []string `json:"values,omitempty"`
}

// String is an attribute constraint as a user reads it: zone = a, zone in [a, b].
func (k Constraint) String() string {
	switch {
	case k.Kind == ConstraintDistinctHost:
		return ConstraintDistinctHost
	case k.Kind == ConstraintEquals && len(k.Values) == 1:
		return k.Attribute + " = " + k.Values[0]
	}
	return k.Attribute + " in [" + strings.Join(k.Values, ", ") + "]"
}

const (
	ConstraintDistinctHost = "distinct_host"
	ConstraintEquals       = "equals"
	ConstraintIn           = "in"
)
