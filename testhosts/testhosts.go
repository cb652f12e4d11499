// Package testhosts starts real Podman hosts on this machine for end-to-end tests and
// benchmarks, through hosts.sh: each host has its own network namespace, address
// (10.77.0.1X), storage and API socket; one may be reachable only over ssh. A Caddy load
// balancer runs in h1's namespace (Env.LB).
//
// The hosts share one bridge and address range, so only one set can be up at a time on a
// machine: Up takes an exclusive lock that Down releases, and other test binaries (go test
// runs packages in parallel) wait for it.
package testhosts

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/deckhq/deck/manifest"
)

// lockFile serializes users of the shared bridge across processes.
const lockFile = "/run/deck-testhosts.lock"

// scriptTimeout bounds one run of hosts.sh (an install from apt is the slow case).
const scriptTimeout = 5 * time.Minute

// Host is one started host, as written to hosts.yaml.
type Host struct {
	Name       string            `yaml:"name"`
	URL        string            `yaml:"url"`
	Address    string            `yaml:"address"`
	Identity   string            `yaml:"identity,omitempty"`
	KnownHosts string            `yaml:"known_hosts,omitempty"`
	Attributes map[string]string `yaml:"attributes,omitempty"`
}

// Spec returns the host as deck's manifest describes hosts.
func (h Host) Spec() manifest.HostSpec {
	return manifest.HostSpec{Name: h.Name, URL: h.URL, Address: h.Address, Identity: h.Identity,
		KnownHosts: h.KnownHosts, Attributes: h.Attributes}
}

// LB is the Caddy load balancer hosts.sh runs in h1's namespace. It starts with an empty
// configuration but for its admin API, which listens only on the unix socket Admin; deck
// creates its own server, listening on Listen. hosts.yaml lists hosts only; a deck.yaml
// names this balancer as
//
//	load_balancers: [{name: edge, host: h1, provider: caddy, listen: 10.77.0.11:80,
//	                  admin: <Dir>/h1/caddy/admin.sock}]
type LB struct {
	Name   string // "edge"
	Host   string // "h1"
	Listen string // h1's address, port 80
	Admin  string // Dir/h1/caddy/admin.sock
	Log    string // Caddy's output
}

// Spec returns the balancer as deck's manifest describes it.
func (l LB) Spec() manifest.LoadBalancerSpec {
	return manifest.LoadBalancerSpec{Name: l.Name, Host: l.Host, Provider: manifest.LBCaddy, Listen: l.Listen, Admin: l.Admin}
}

// Env is a started set of hosts.
type Env struct {
	Dir       string // where the hosts keep their state
	HostsFile string // Dir/hosts.yaml, usable as a manifest's hosts_file
	Hosts     []Host // h1..hN
	LB        LB     // Caddy, on h1 ("edge")
	// LBs are every Caddy the hosts run: LB, and with two hosts or more a second one on
	// h2 ("edge2"), for environments that name several balancers.
	LBs  []LB
	lock *os.File
}

// Script returns the path of hosts.sh, next to this source file.
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "hosts.sh")
}

// Up starts n hosts; when sshHost is 1..n that host is reached only over ssh (0: none).
// It blocks while another process has hosts up.
func Up(n int, sshHost int) (*Env, error) {
	lock, err := acquireLock()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("/run", "deck-testhosts-")
	if err != nil {
		releaseLock(lock)
		return nil, err
	}
	e := &Env{Dir: dir, HostsFile: filepath.Join(dir, "hosts.yaml"), lock: lock}
	args := []string{"up", strconv.Itoa(n), "--dir", dir}
	if sshHost > 0 {
		args = append(args, "--ssh", strconv.Itoa(sshHost))
	}
	if _, err := run(args...); err != nil {
		_ = e.Down()
		return nil, err
	}
	data, err := os.ReadFile(e.HostsFile)
	if err == nil {
		err = yaml.Unmarshal(data, &e.Hosts)
	}
	if err != nil {
		_ = e.Down()
		return nil, fmt.Errorf("testhosts: reading %s: %w", e.HostsFile, err)
	}
	// As hosts.sh places them (lb_hosts, caddy_dir).
	for i, name := range []string{"edge", "edge2"} {
		if i >= len(e.Hosts) || (i == 1 && len(e.Hosts) < 2) {
			break
		}
		caddyDir := filepath.Join(dir, e.Hosts[i].Name, "caddy")
		e.LBs = append(e.LBs, LB{Name: name, Host: e.Hosts[i].Name, Listen: net.JoinHostPort(e.Hosts[i].Address, "80"),
			Admin: filepath.Join(caddyDir, "admin.sock"), Log: filepath.Join(caddyDir, "caddy.log")})
	}
	e.LB = e.LBs[0]
	return e, nil
}

// Specs returns the hosts as manifest host specs.
func (e *Env) Specs() []manifest.HostSpec {
	out := make([]manifest.HostSpec, len(e.Hosts))
	for i, h := range e.Hosts {
		out[i] = h.Spec()
	}
	return out
}

// Down stops every host and removes all trace of them, then lets other processes in.
func (e *Env) Down() error {
	if e.lock == nil {
		return nil
	}
	_, err := run("down", "--dir", e.Dir)
	releaseLock(e.lock)
	e.lock = nil
	return err
}

// Partition cuts host i (1-based) off the network while it keeps running.
func (e *Env) Partition(i int) error { return e.hostCmd("partition", i) }

// Heal reconnects host i.
func (e *Env) Heal(i int) error { return e.hostCmd("heal", i) }

// Stop stops host i's Podman service (its containers keep running).
func (e *Env) Stop(i int) error { return e.hostCmd("stop", i) }

// Start starts host i's Podman service again and waits until it answers.
func (e *Env) Start(i int) error { return e.hostCmd("start", i) }

// StopLB kills Caddy, as a crash would.
func (e *Env) StopLB() error { return e.lbCmd("lb-stop") }

// StartLB starts Caddy (killing it first if it runs) with an empty configuration and
// waits until its admin API answers.
func (e *Env) StartLB() error { return e.lbCmd("lb-start") }

// RestartLB kills Caddy and starts it again empty: deck's server and routes are gone
// until deck puts them back.
func (e *Env) RestartLB() error { return e.lbCmd("lb-restart") }

// RestartLBOn kills the Caddy on host i (1 or 2) and starts it again empty.
func (e *Env) RestartLBOn(i int) error {
	if i < 1 || i > len(e.LBs) {
		return fmt.Errorf("testhosts: no load balancer on host %d (have %d)", i, len(e.LBs))
	}
	_, err := run("lb-restart", strconv.Itoa(i), "--dir", e.Dir)
	return err
}

func (e *Env) lbCmd(cmd string) error {
	_, err := run(cmd, "--dir", e.Dir)
	return err
}

func (e *Env) hostCmd(cmd string, i int) error {
	if i < 1 || i > len(e.Hosts) {
		return fmt.Errorf("testhosts: %s: no host %d (have %d)", cmd, i, len(e.Hosts))
	}
	_, err := run(cmd, strconv.Itoa(i), "--dir", e.Dir)
	return err
}

func run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{Script()}, args...)...)
	// This process holds the lock; tell the script so it does not refuse.
	cmd.Env = append(os.Environ(), "DECK_TESTHOSTS_LOCKED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("testhosts: hosts.sh %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func acquireLock() (*os.File, error) {
	f, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testhosts: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("testhosts: locking %s: %w", lockFile, err)
	}
	return f, nil
}

// releaseLock unlocks by closing: the lock belongs to the open file, and closing also
// covers a process that dies (the kernel releases it then).
func releaseLock(f *os.File) { _ = f.Close() }
