// Package providers holds the small interfaces through which deck observes and drives the
// world (Podman hosts now, load balancers next), and the plain types they exchange.
// Implementations: providers/podman (real hosts) and providers/fake (in memory, for unit
// tests and simulations).
package providers

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/deckhq/deck/manifest"
)

// ErrNotFound is returned (wrapped) when a container, image, secret or record does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned (wrapped) when a record is created under a name that is taken.
var ErrExists = errors.New("already exists")

// ErrInUse is returned (wrapped) when something a container still uses is removed.
var ErrInUse = errors.New("in use")

// HostInfo is what a host reports about itself.
type HostInfo struct {
	Version  string             // Podman server version
	Capacity manifest.Resources // total cpu units (cpus*1024) and memory MiB, before reservations
}

// Task is one container deck created, as observed on a host.
type Task struct {
	ContainerID string
	Name        string
	Host        string // host name (set by the caller that knows which host it listed)
	App         string
	Env         string
	Service     string
	Revision    string
	TaskID      string
	State       string // Podman's state: created, running, exited, stopped, ...
	StartedAt   time.Time
	ExitCode    int
	// OOMKilled is true when the kernel killed the container for exceeding its memory limit.
	// Podman may miss it (seen with Podman 4.3.1, conmon 2.1.6, cgroup v1: conmon writes its
	// marker to the wrong directory): such a task still shows exit code 137 (SIGKILL).
	OOMKilled bool
	// Error is the runtime's own error for a container that failed to start ("" if none).
	// Podman 4.3 leaves it empty (the container stays "created"): Start's error tells why.
	Error      string
	FinishedAt time.Time // when it last stopped; zero while it has never stopped
	Ports      []PortBinding
	// Meta is what deck's labels say (decoded once, by TaskFromLabels).
	Meta   TaskMeta
	Labels map[string]string
}

// Running reports whether the task's container is running.
func (t Task) Running() bool { return t.State == "running" }

// HostPort returns the host port bound to the container port, or 0.
func (t Task) HostPort(containerPort int) int {
	for _, p := range t.Ports {
		if p.ContainerPort == containerPort {
			return p.HostPort
		}
	}
	return 0
}

// Address is hostAddress:the host port published for the task's service port (the one
// its labels name), or "" when it publishes none.
func (t Task) Address(hostAddress string) string {
	if t.Meta.Port == 0 {
		return ""
	}
	if hp := t.HostPort(t.Meta.Port); hp != 0 {
		return net.JoinHostPort(hostAddress, strconv.Itoa(hp))
	}
	return ""
}

// PortBinding is one published port.
type PortBinding struct {
	ContainerPort int
	HostPort      int
	HostIP        string
}

// TaskSpec is everything needed to create one task's container.
type TaskSpec struct {
	Name        string // container name, unique on the host
	Image       string
	Command     []string
	Entrypoint  []string
	Env         map[string]string
	Secrets     []TaskSecret // Podman secrets, as environment variables or files
	Labels      map[string]string
	Port        int // container port to publish; 0 = none
	HostPort    int // 0 = a random free port
	CPUShares   int64
	MemoryMiB   int64
	StopTimeout time.Duration
	Healthcheck []string // command run by HealthCheck; nil = none
	Volumes     []manifest.Volume
	// LogMaxSize caps the container's log file in bytes (it starts again, empty, when a
	// write would pass it); 0 leaves the host's default.
	LogMaxSize int64
}

// TaskSecret gives a task the Podman secret Secret: as the environment variable Env, or,
// when File is set, as the file /run/secrets/File (not shown by podman inspect; Podman
// 4.3 shows env secrets there in plain text). Exactly one of Env and File is set; File is
// a plain file name.
type TaskSecret struct {
	Secret string
	Env    string
	File   string
}

// Runtime runs tasks on one host.
type Runtime interface {
	Info(ctx context.Context) (HostInfo, error)
	// List returns every container carrying deck's labels for app and env (all of them when
	// both are empty), running or not, in a new slice that is the caller's to keep or change.
	List(ctx context.Context, app, env string) ([]Task, error)
	// Create creates a container without starting it (state "created"). A failed Create
	// leaves nothing behind (when its answer is lost, the provider removes the container
	// by name, best effort).
	Create(ctx context.Context, spec TaskSpec) (Task, error)
	// Start starts a created container; the returned Task has its ports bound. A container
	// that fails to start is left for the caller to read (Inspect, Logs) and remove.
	Start(ctx context.Context, containerID string) (Task, error)
	// Inspect reads one container (any state) as a Task; ErrNotFound when it is gone.
	Inspect(ctx context.Context, containerID string) (Task, error)
	// Logs returns the last tail lines the container wrote (stdout and stderr merged,
	// oldest first; all of them when tail <= 0), in any state.
	Logs(ctx context.Context, containerID string, tail int) ([]string, error)
	// FollowLogs calls line for each line the container writes (stdout and stderr merged),
	// from its start, until it stops or ctx ends.
	FollowLogs(ctx context.Context, containerID string, line func(string)) error
	// Stop sends SIGTERM, waits up to timeout, then SIGKILL. Stopping a stopped task is not an error.
	Stop(ctx context.Context, containerID string, timeout time.Duration) error
	// Remove deletes a stopped container (and its anonymous volumes).
	Remove(ctx context.Context, containerID string) error
	// HealthCheck runs the container's healthcheck command once; true when it exits 0.
	HealthCheck(ctx context.Context, containerID string) (bool, error)
	// RemoveVolume deletes a named volume and its data. A volume a container uses (running
	// or not) is refused with ErrInUse, naming the containers; a missing one is ErrNotFound.
	RemoveVolume(ctx context.Context, name string) error
}

// Images moves images onto a host.
type Images interface {
	ImageExists(ctx context.Context, ref string) (bool, error)
	// PullImage pulls ref from its registry.
	PullImage(ctx context.Context, ref string, output io.Writer) error
	// ExportImage writes ref as a docker-archive tarball.
	ExportImage(ctx context.Context, ref string, w io.Writer) error
	// LoadImage loads a tarball written by ExportImage.
	LoadImage(ctx context.Context, r io.Reader) error
	// ListImages returns the images with a name starting with prefix (all named ones
	// when prefix is ""), one entry per name.
	ListImages(ctx context.Context, prefix string) ([]Image, error)
	// RemoveImage untags ref and deletes the image when no other name or container uses
	// it. An image a container still uses is left (not an error); a missing one is ErrNotFound.
	RemoveImage(ctx context.Context, ref string) error
	// PruneImages deletes dangling images (build leftovers with no name) and returns how
	// many it removed.
	PruneImages(ctx context.Context) (int, error)
}

// Image is one named image on a host.
type Image struct {
	Ref     string // the name, such as localhost/deck/hello/web:3f2a...
	ID      string
	Created time.Time
	Size    int64
}

// SocketDialer opens a connection to a unix socket on the host, such as a load balancer's
// admin API: directly for a unix:// host, through the ssh tunnel for an ssh:// one, so
// the socket is never exposed on a network.
type SocketDialer interface {
	DialSocket(ctx context.Context, path string) (net.Conn, error)
}

// Builder builds images from a Containerfile.
type Builder interface {
	Build(ctx context.Context, req BuildRequest) error
}

// BuildRequest asks for context+containerfile to be built and tagged ref.
type BuildRequest struct {
	Ref           string
	Context       string
	Containerfile string
	Args          map[string]string
	Output        io.Writer // build log; may be nil
}

// Secrets stores secret values on a host (as Podman secrets).
type Secrets interface {
	// EnsureSecret creates the secret unless one with that name exists. Names carry a digest
	// of the value, so an existing name means the same value.
	EnsureSecret(ctx context.Context, name string, value []byte) error
	ListSecrets(ctx context.Context, prefix string) ([]string, error)
	RemoveSecret(ctx context.Context, name string) error
}

// Record is a small named record kept on a host: its content is its labels.
type Record struct {
	Name    string
	Labels  map[string]string
	Created time.Time // by the host's clock
}

// Records keeps small named records on a host (the deploy lock, the services' desired
// state). The Podman provider keeps them as Podman secrets whose labels hold the content:
// created atomically by name, never pruned by podman's prune commands.
type Records interface {
	// CreateRecord creates the record, or fails with ErrExists when the name is taken:
	// of two writers creating one name at once, exactly one succeeds. Names are Podman
	// secret names: 1 to 64 letters, digits, '.', '_' and '-', starting and ending with a
	// letter or digit. A create that failed as unreachable may have happened all the same,
	// and ErrExists may be this call's own earlier attempt: a caller that must know lists
	// the record and compares its labels with what it wrote.
	CreateRecord(ctx context.Context, name string, labels map[string]string) error
	// ListRecords returns the records whose names start with prefix.
	ListRecords(ctx context.Context, prefix string) ([]Record, error)
	// RemoveRecord deletes a record; ErrNotFound when there is none.
	RemoveRecord(ctx context.Context, name string) error
	// Now is the host's clock (a lease expires by the clock of the host that keeps it,
	// never by the client's). The Podman provider reads it to the second, truncated: it
	// may lag the host's clock by up to a second, never lead it.
	Now(ctx context.Context) (time.Time, error)
}

// Host is everything deck needs from one host.
type Host interface {
	Name() string
	Spec() manifest.HostSpec
	Runtime
	LogStreamer // deck logs (providers/logs.go)
	Images
	Builder
	Secrets
	Records
	Stats
	Events
	Execer
	Close() error
}

// Dialer connects to hosts.
type Dialer interface {
	Dial(ctx context.Context, spec manifest.HostSpec) (Host, error)
}

// HostError is an error from one host; it names the host and its URL, and Op says what
// deck was doing in plain words ("listing containers", "stopping container ID"). An
// unanswered call wraps ErrUnreachable ("...: listing containers: unreachable: no answer
// within 10s").
type HostError struct {
	Host string
	URL  string
	Op   string
	Err  error
}

func (e *HostError) Error() string {
	return "host " + e.Host + " (" + e.URL + "): " + e.Op + ": " + e.Err.Error()
}

func (e *HostError) Unwrap() error { return e.Err }
