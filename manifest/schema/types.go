package schema

// The types below describe the manifests as users write them, key for key. They exist
// for the JSON Schema only: package manifest decodes the YAML by hand (to report every
// error with its line and column) into resolved specs (manifest.ServiceSpec and friends)
// whose shape is not the file's (image.port is TaskDef.Port, count: 3 is a Count{Value: 3}).
// A key added to the decoder must be added here too (then make schema):
// TestSchemaKeysAreTheKeysDeckReads puts an unknown key at each map of the files, reads the
// valid keys from deck's own error and fails when the schema lists others.
//
// The doc comments become the schema's descriptions: they are what an editor shows when
// the cursor is on a key. The alternative forms a key takes (count: 3 or a map, a duration
// as 30s or a number of seconds) are added by each type's JSONSchemaExtend, and ${VAR} in
// any value by the generator (see interpolated).

// App is deck.yaml: the app's name, its environments and where its service manifests are.
type App struct {
	// The app's name: lowercase letters, digits and -, starting with a letter, at most 40
	// characters. It is part of every container, network and volume name deck makes.
	App string `json:"app" jsonschema:"required"`
	// Globs of the service manifests, relative to deck.yaml's directory (default: deck/*.yaml).
	Services []string `json:"services,omitempty" jsonschema:"minItems=1"`
	// The environments, by name: each a set of Podman hosts. With none, deck uses the local
	// Podman socket. With exactly one, --env can be left out.
	Environments map[string]Environment `json:"environments,omitempty"`
}

// Environment is a named set of Podman hosts, its load balancers and its controller's settings.
type Environment struct {
	// A YAML file holding a list of hosts (same keys as hosts), relative to deck.yaml's
	// directory; often ${VAR}, so the hosts stay out of the repository.
	HostsFile string `json:"hosts_file,omitempty"`
	// The environment's Podman hosts.
	Hosts []Host `json:"hosts,omitempty"`
	// Load balancers (Caddy) that route to the environment's Load Balanced Web Services;
	// each gets every route.
	LoadBalancers []LoadBalancer `json:"load_balancers,omitempty"`
	// How deck controller runs this environment.
	Controller *Controller `json:"controller,omitempty"`
}

// Host is one Podman API endpoint.
type Host struct {
	// The host's name, unique in the environment: lowercase letters, digits and -.
	Name string `json:"name" jsonschema:"required"`
	// unix:///path/podman.sock or ssh://user@host[:port]/path/podman.sock.
	URL string `json:"url" jsonschema:"required"`
	// Where the host's published ports answer: an IP address or a host name (default: the
	// ssh host, or 127.0.0.1).
	Address string `json:"address,omitempty"`
	// The ssh private key file; required for ssh://.
	Identity string `json:"identity,omitempty"`
	// The known_hosts file that must already hold the host's key (default ~/.ssh/known_hosts).
	KnownHosts string `json:"known_hosts,omitempty"`
	// Attributes that placement constraints and spread_by use, such as zone: a.
	Attributes map[string]Scalar `json:"attributes,omitempty"`
	// Capacity kept back from placement.
	Reserved *Reserved `json:"reserved,omitempty"`
	// The host's capacity for deck; default: what podman info reports.
	Capacity *Capacity `json:"capacity,omitempty"`
}

// Reserved is capacity kept back from placement.
type Reserved struct {
	// ECS cpu units (1024 = 1 vCPU).
	CPU int `json:"cpu,omitempty" jsonschema:"minimum=0"`
	// MiB.
	Memory int `json:"memory,omitempty" jsonschema:"minimum=0"`
}

// Capacity replaces what podman info reports.
type Capacity struct {
	// ECS cpu units (1024 = 1 vCPU).
	CPU int `json:"cpu,omitempty" jsonschema:"minimum=1"`
	// MiB.
	Memory int `json:"memory,omitempty" jsonschema:"minimum=1"`
}

// LoadBalancer is a Caddy that deck drives through its admin API's unix socket.
type LoadBalancer struct {
	// Unique in the environment: lowercase letters, digits and -.
	Name string `json:"name" jsonschema:"required"`
	// The environment's host that runs it; deck reaches its admin socket through that host's connection.
	Host string `json:"host" jsonschema:"required"`
	// The load balancer's kind (default caddy, the only one for now).
	Provider string `json:"provider,omitempty" jsonschema:"enum=caddy"`
	// Where clients connect, host:port (default: the host's address, port 80).
	Listen string `json:"listen,omitempty"`
	// The absolute path of Caddy's admin API unix socket on the host.
	Admin string `json:"admin" jsonschema:"required"`
}

// Controller is deck controller's settings for an environment; every key is optional.
type Controller struct {
	// How the controllers choose the one that acts: hosts (a lease kept on the
	// environment's hosts; the default) or etcd.
	Leader string `json:"leader,omitempty" jsonschema:"enum=hosts,enum=etcd"`
	// The etcd cluster that elects the leader; required with leader: etcd.
	Etcd *Etcd `json:"etcd,omitempty"`
	// The leader's lease, 3s to 10m (default 15s).
	Lease Duration `json:"lease,omitempty"`
	// How long a host may be unreachable before its tasks are placed elsewhere, 1s to 1h (default 15s).
	HostGrace Duration `json:"host_grace,omitempty"`
	// The period of the full reconcile that backs up the event streams, 1s to 1h (default 30s).
	Resync Duration `json:"resync,omitempty"`
}

// Etcd is an etcd cluster deck reaches as a client.
type Etcd struct {
	// The members' client URLs, http://HOST:PORT.
	Endpoints []string `json:"endpoints,omitempty" jsonschema:"minItems=1"`
}

// Service is a service manifest (deck/NAME.yaml), shaped like a Copilot manifest.
type Service struct {
	// The service's name, unique in the app: lowercase letters, digits and -, starting
	// with a letter, at most 40 characters.
	Name string `json:"name" jsonschema:"required"`
	// The workload type.
	Type string `json:"type" jsonschema:"required"`
	// Where the image comes from (build or location) and the port the container listens on.
	Image *Image `json:"image" jsonschema:"required"`
	// The container's command: a list, or a string split like a shell would.
	Command Words `json:"command,omitempty"`
	// The container's entrypoint: a list, or a string split like a shell would.
	Entrypoint Words `json:"entrypoint,omitempty"`
	// ECS cpu units, 1024 = 1 vCPU; applied as cpu shares (default 256).
	CPU int `json:"cpu,omitempty" jsonschema:"minimum=2,maximum=262144"`
	// MiB, a hard limit (default 512).
	Memory int `json:"memory,omitempty" jsonschema:"minimum=6"`
	// The number of tasks (default 1), or a range the controller scales within.
	Count *Count `json:"count,omitempty"`
	// Environment variables of the container (names not starting with DECK_).
	Variables map[string]Scalar `json:"variables,omitempty"`
	// Secrets by name, injected as Podman secrets: NAME: VAR (from deck's environment),
	// or {from_env: VAR} or {file: path}, with type env (default) or mount.
	Secrets map[string]Secret `json:"secrets,omitempty"`
	// The task's health check: an HTTP path probed on the published port, or a map.
	Healthcheck *Healthcheck `json:"healthcheck,omitempty"`
	// The route on the environment's load balancers (Load Balanced Web Service only).
	HTTP *HTTP `json:"http,omitempty"`
	// How a new revision rolls out.
	Deployment *Deployment `json:"deployment,omitempty"`
	// How tasks are placed on hosts.
	Placement *Placement `json:"placement,omitempty"`
	// How long after SIGTERM a stopping task gets SIGKILL (default 10s).
	StopTimeout Duration `json:"stop_timeout,omitempty"`
	// Container labels (keys not starting with deck.).
	Labels map[string]Scalar `json:"labels,omitempty"`
	// Named volumes ({path}) and bind mounts ({host_path, path}), by name.
	Volumes map[string]Volume `json:"volumes,omitempty"`
	// How the host keeps the task's log.
	Logging *Logging `json:"logging,omitempty"`
	// When a Scheduled Job runs (Scheduled Job only).
	On *On `json:"on,omitempty"`
	// A Scheduled Job's schedule; deck's first spelling of on.schedule (give one of them).
	Schedule string `json:"schedule,omitempty"`
	// More tries of a failed run of a Scheduled Job, 0 to 10.
	Retries int `json:"retries,omitempty" jsonschema:"minimum=0,maximum=10"`
	// How long a Scheduled Job's run may take before it is stopped (default: no limit).
	Timeout Duration `json:"timeout,omitempty"`
	// How many runs of a Scheduled Job may go at once, 1 to 100 (default 1).
	Concurrency int `json:"concurrency,omitempty" jsonschema:"minimum=1,maximum=100"`
	// Per-environment overrides, deep-merged over the rest of the file (maps merge key by
	// key; lists and scalars replace; placement.constraints replaces as a whole).
	Environments map[string]Override `json:"environments,omitempty"`
}

// Override is an environment's keys, deep-merged over the service manifest. Its schema is
// the service's with no key required, without name, type and environments (the generator
// derives it; see override).
type Override struct{}

// Image says where the image comes from: build or location.
type Image struct {
	// A directory to build from (its Containerfile, else Dockerfile), or a map with context, containerfile and args.
	Build *Build `json:"build,omitempty"`
	// An existing image reference, pulled on each host, instead of build.
	Location string `json:"location,omitempty"`
	// The port the container listens on; published on a random host port.
	Port int `json:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// A fixed host port (then one task per host); 0 picks a free one.
	HostPort int `json:"host_port,omitempty" jsonschema:"minimum=0,maximum=65535"`
}

// Build is a Containerfile build.
type Build struct {
	// The build context directory, relative to deck.yaml's directory.
	Context string `json:"context" jsonschema:"required"`
	// The Containerfile (default: the context's Containerfile, else its Dockerfile).
	Containerfile string `json:"containerfile,omitempty"`
	// Build arguments.
	Args map[string]Scalar `json:"args,omitempty"`
}

// Count is a fixed number of tasks, or a range the controller scales within to keep one
// or more targets.
type Count struct {
	// The bounds: min-max such as 1-10, or {min, max}; min at least 1.
	Range *Range `json:"range" jsonschema:"required"`
	// Target CPU use in percent of the task's cpu, averaged over the tasks.
	CPUPercentage int `json:"cpu_percentage,omitempty" jsonschema:"minimum=1,maximum=100"`
	// Target memory use in percent of the task's memory, averaged over the tasks.
	MemoryPercentage int `json:"memory_percentage,omitempty" jsonschema:"minimum=1,maximum=100"`
	// Target requests in flight per task, as the load balancers count them.
	Requests int `json:"requests,omitempty" jsonschema:"minimum=1"`
	// How long to wait after scaling: one duration for both directions, or {in, out}.
	Cooldown *Cooldown `json:"cooldown,omitempty"`
}

// Range bounds autoscaling: min-max such as 1-10, or {min, max}.
type Range struct {
	// The fewest tasks.
	Min int `json:"min" jsonschema:"required,minimum=0"`
	// The most tasks.
	Max int `json:"max" jsonschema:"required,minimum=1"`
}

// Cooldown is one duration for both directions, or {in, out}.
type Cooldown struct {
	// How long after any scaling action the service may scale in (default 120s).
	In Duration `json:"in,omitempty"`
	// How long after a scale-out the service may scale out again (default 60s).
	Out Duration `json:"out,omitempty"`
}

// Secret is where a secret's value comes from and how the container gets it.
type Secret struct {
	// A variable of deck's own environment that holds the value.
	FromEnv string `json:"from_env,omitempty"`
	// A file that holds the value, relative to deck.yaml's directory.
	File string `json:"file,omitempty"`
	// env (an environment variable NAME; the default) or mount (a file /run/secrets/NAME).
	Type string `json:"type,omitempty" jsonschema:"enum=env,enum=mount"`
}

// Healthcheck is an HTTP GET of path on the published port, or a command run in the container.
type Healthcheck struct {
	// The path of an HTTP GET on the published port; 2xx and 3xx are healthy.
	Path string `json:"path,omitempty"`
	// A command run in the container, healthy when it exits 0: a list, or a string run by its shell.
	Command Words `json:"command,omitempty"`
	// Between checks (default 10s).
	Interval Duration `json:"interval,omitempty"`
	// Of one check (default 5s).
	Timeout Duration `json:"timeout,omitempty"`
	// Failed checks in a row before the task is unhealthy, 1 to 100 (default 2).
	Retries int `json:"retries,omitempty" jsonschema:"minimum=1,maximum=100"`
	// Time after the start when failed checks do not count (default 0s).
	StartPeriod Duration `json:"start_period,omitempty"`
}

// HTTP is a Load Balanced Web Service's route and target group, with Copilot's names.
type HTTP struct {
	// The path prefix the route matches (default /).
	Path string `json:"path,omitempty"`
	// Host names the route matches: one, or a list (default: any host).
	Alias Strings `json:"alias,omitempty"`
	// How long a stopped task drains, 0s to 1h (default 60s).
	DeregistrationDelay Duration `json:"deregistration_delay,omitempty"`
	// Keep a client on one task with a cookie.
	Stickiness bool `json:"stickiness,omitempty"`
	// The target health check: a path, or a map.
	Healthcheck *TargetHealthcheck `json:"healthcheck,omitempty"`
}

// TargetHealthcheck is the check a new task passes before the load balancers send it requests.
type TargetHealthcheck struct {
	// The path checked (default: healthcheck.path when it is one, else /).
	Path string `json:"path,omitempty"`
	// The status codes that pass: codes and ranges such as 200,204 or 200-299 (default 200-399).
	SuccessCodes Scalar `json:"success_codes,omitempty"`
	// Passes in a row before a new task is registered, 1 to 10 (default 2).
	HealthyThreshold int `json:"healthy_threshold,omitempty" jsonschema:"minimum=1,maximum=10"`
	// 1 to 10 (default 2); accepted for Copilot's sake, not used yet.
	UnhealthyThreshold int `json:"unhealthy_threshold,omitempty" jsonschema:"minimum=1,maximum=10"`
	// Between checks, 1s to 5m (default 10s).
	Interval Duration `json:"interval,omitempty"`
	// Of one check, below interval (default 5s).
	Timeout Duration `json:"timeout,omitempty"`
	// A new task's time to pass, from its start, 0s to 1h (default 60s).
	GracePeriod Duration `json:"grace_period,omitempty"`
}

// Deployment is how a new revision rolls out.
type Deployment struct {
	// default (min healthy 100%, max 200%) or recreate (0% / 100%).
	Rolling string `json:"rolling,omitempty" jsonschema:"enum=default,enum=recreate"`
	// Tasks that must stay healthy during a rollout, in percent of the count, 0 to 100.
	MinHealthyPercent int `json:"min_healthy_percent,omitempty" jsonschema:"minimum=0,maximum=100"`
	// Tasks that may run during a rollout, in percent of the count, 100 to 200.
	MaxPercent int `json:"max_percent,omitempty" jsonschema:"minimum=100,maximum=200"`
	// How long a new task must stay running and healthy, once it passes its health check,
	// before it replaces a task of the old revision, 0s to 10m (default 5s; 0s: no wait).
	MinHealthyTime Duration `json:"min_healthy_time,omitempty"`
	// Stops a rollout whose new tasks keep failing.
	CircuitBreaker *CircuitBreaker `json:"circuit_breaker,omitempty"`
}

// CircuitBreaker stops a rollout whose new tasks keep failing.
type CircuitBreaker struct {
	// Failed new tasks that stop the rollout, 1 to 200 (default: half the count, 3 to 200).
	Threshold int `json:"threshold,omitempty" jsonschema:"minimum=1,maximum=200"`
	// Then go back to the last completed revision (default true).
	Rollback bool `json:"rollback,omitempty"`
}

// Placement chooses the hosts of the tasks.
type Placement struct {
	// spread (tasks over as many hosts as possible; the default) or binpack (fill hosts one by one).
	Strategy string `json:"strategy,omitempty" jsonschema:"enum=spread,enum=binpack"`
	// Host attributes to spread across, after spreading across hosts.
	SpreadBy []string `json:"spread_by,omitempty"`
	// Restrict the hosts tasks may run on.
	Constraints *Constraints `json:"constraints,omitempty"`
}

// Constraints restrict the hosts tasks may run on.
type Constraints struct {
	// At most one task per host.
	DistinctHost bool `json:"distinct_host,omitempty"`
	// Host attributes and the value (or one of the list of values) they must have.
	Attributes map[string]Strings `json:"attributes,omitempty"`
}

// Volume is a named volume ({path}) or a bind mount ({host_path, path}).
type Volume struct {
	// The mount point in the container, an absolute path.
	Path string `json:"path" jsonschema:"required"`
	// A directory on the host (an absolute path): makes the volume a bind mount.
	HostPath string `json:"host_path,omitempty"`
	// Mount it read-only.
	ReadOnly bool `json:"read_only,omitempty"`
}

// Logging is how the host keeps a task's log.
type Logging struct {
	// The most the task's log file holds (default 10m); a write that would pass it starts
	// the file again, empty. A size with a unit: 512k, 10m, 1g (1000s) or 64mi (1024s).
	MaxSize Size `json:"max_size,omitempty"`
}

// On is when a Scheduled Job runs.
type On struct {
	// A 5-field cron expression in UTC, @hourly, @daily..., or @every <duration>.
	Schedule string `json:"schedule,omitempty"`
}

// Duration is a Go duration such as 10s, 1m30s or 500ms, or a number of seconds.
type Duration string

// Size is a number of bytes with a unit: k, m, g (powers of 1000) or ki, mi, gi (of 1024),
// with an optional b.
type Size string

// Words is a command: a list of words, or a string split like a shell would.
type Words []Scalar

// Strings is one string or a list of them.
type Strings []Scalar

// Scalar is any YAML scalar; deck reads it as its text (3 is "3").
type Scalar string
