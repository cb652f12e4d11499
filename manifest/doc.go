// Package manifest reads deck's YAML manifests (the app file and the service manifests),
// interpolates ${VAR}, applies per-environment overrides, fills defaults, validates, and
// returns typed specs. Every error names the file, line, column and YAML path, and all the
// errors of a run are reported together (ErrorList).
//
// # The app file (deck.yaml)
//
//	app: hello                       # required; [a-z][a-z0-9-]*
//	services: ["deck/*.yaml"]        # globs relative to deck.yaml's directory (this is the default)
//	environments:
//	  test:
//	    hosts_file: ${HOSTS}         # a YAML list of hosts, same schema as hosts entries
//	    hosts:
//	      - name: h1                 # required, unique in the environment, [a-z0-9-]
//	        url: ssh://deck@10.0.0.1:22/run/podman/podman.sock  # or unix:///abs/podman.sock
//	        identity: ~/.ssh/deck    # ssh only, required there
//	        known_hosts: ~/.ssh/known_hosts  # ssh only; this is the default
//	        address: 10.0.0.1        # where published ports are reached; default the ssh host or 127.0.0.1
//	        attributes: {zone: a}
//	        reserved: {cpu: 100, memory: 256}
//	        capacity: {cpu: 2048, memory: 4096}  # overrides what podman reports
//	    load_balancers:              # each gets the routes of every Load Balanced Web Service
//	      - name: edge               # required, unique in the environment, [a-z0-9-]
//	        host: h1                 # required: the environment's host that runs it
//	        provider: caddy          # the default and, for now, the only one
//	        listen: 10.0.0.1:80      # default: the host's address, port 80; unique per host
//	        admin: /run/caddy/admin.sock  # required: the admin API's unix socket on that host
//	    controller:                  # deck controller's settings (ControllerSpec); all optional
//	      leader: hosts              # hosts (a lease on the hosts; default) or etcd
//	      etcd: {endpoints: [http://10.0.0.1:2379]}  # required with leader: etcd
//	      lease: 15s                 # the leader's lease, 3s to 10m
//	      host_grace: 15s            # a host unreachable this long has its tasks placed elsewhere
//	      resync: 30s                # the periodic full reconcile
//
// With no environments, App.Environment("") is an implicit "local" one holding the local
// Podman socket (LocalURL). Problems that depend on the machine deck runs on (an unset
// ${VAR}, a missing hosts_file or ssh identity, a load balancer's host that is not in the
// hosts_file, inside an environment) are reported only when that environment is chosen,
// so deploying to test needs nothing of prod's. Validate, which deck validate runs, checks
// every environment (or one) and reports them for each.
//
// Manifests are read only from regular files of at most MaxFileSize, each exactly one YAML
// document. The services globs must match service manifests: a .yml file beside the .yaml
// ones, a dangling symbolic link, a directory, or no service at all is an error, reported
// with the services (LoadServices), so LoadApp works while they are broken.
//
// # Service manifests (deck/<name>.yaml)
//
// One file per service, shaped like a Copilot manifest: name, type (one of WorkloadTypes),
// image (build: <dir> | {context, containerfile, args}, or location; port, host_port),
// command and entrypoint (a list or a shell-like string), cpu (ECS units), memory (MiB),
// count (a number, or {range: 1-10 | {min, max}, min 1 or more; one or more targets of
// cpu_percentage, memory_percentage, requests; cooldown: one duration for both, or
// {in, default 120s; out, default 60s}}), variables (not DECK_*), secrets (NAME: VAR, {from_env: VAR} or
// {file: path}, with type: env, an environment variable, or mount, /run/secrets/NAME),
// healthcheck (a path, or {path | command, interval, timeout, retries, start_period}),
// http (Load Balanced Web Service only, Copilot's names: {path: a prefix, default /;
// alias: host names; deregistration_delay, default 60s; stickiness; healthcheck: a path or
// {path, default the HTTP healthcheck's or /; success_codes, default 200-399;
// healthy_threshold and unhealthy_threshold, default 2; interval, default 10s; timeout,
// default 5s and below interval; grace_period, default 60s}}; a web service without it
// gets those defaults, and two whose routes take the same requests are an error),
// deployment ({rolling: default | recreate, min_healthy_percent, max_percent,
// min_healthy_time: 0s-10m, default 5s; circuit_breaker: {threshold: 1-200, default half
// the count in [3, 200]; rollback, default true}}),
// placement ({strategy: spread | binpack, spread_by, constraints: {distinct_host,
// attributes}}), stop_timeout, labels (not deck.*), volumes (NAME: {path} for a named
// volume, NAME: {host_path, path, read_only} for a bind mount), on.schedule (Scheduled Job
// only, as are the next three: 5-field cron in UTC, @hourly... or @every <duration>, at
// least 1s; the top-level schedule key is read too, but not both), retries (0-10),
// timeout (a duration), concurrency (runs at once, 1-100, default 1), and environments: per-environment
// overrides deep-merged over the document (maps merge key by key; lists and scalars
// replace; setting image.build or image.location drops the other, likewise
// healthcheck.path and healthcheck.command; placement.constraints replaces the base's
// constraints as a whole, so an environment can lift or change one, not only add one).
//
// A null in an override is an error: it would reset the key to deck's default, not keep the
// base's value. YAML anchors, aliases and merge keys (<<: *base) work anywhere; custom tags
// (!Ref) are errors, and a quoted number or boolean ("3") is a string.
//
// Durations are Go durations (10s, 1m30s) or a bare number of seconds. Relative paths
// resolve from deck.yaml's directory. The type is read first and the document is decoded
// over that type's defaults; unknown keys are errors with a "did you mean" hint.
//
// # Interpolation
//
// ${VAR} and ${VAR:-default} are expanded in scalar values (never keys) before decoding:
// DECK_APP, DECK_ENV and DECK_SERVICE first, then the lookup function given to the loaders
// (os.LookupEnv when nil). $${ is a literal ${. An unset variable without a default is an
// error at its node. In a service manifest they are expanded after the chosen environment's
// override is merged, so only the values that environment uses need their variables set:
// not other environments' overrides, nor a base value the override replaces.
//
// Secrets are never read while loading, only checked for a source (a set, non-empty
// variable; an existing, non-empty file): ReadSecret reads a value when it is needed, and
// the executor's Resolve fills the digest kept in TaskDef.Secrets.
package manifest
