package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/controller/autoscale"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// TopOptions are deck top's inputs.
type TopOptions struct {
	Deps    Deps
	Globals *Globals
	// Interval is the time between refreshes.
	Interval time.Duration
	// Once prints one snapshot and exits, even on a terminal.
	Once bool
	// Refresh keeps refreshing off a terminal too (--interval given explicitly): for
	// `deck top -o json | ...`.
	Refresh bool
}

// topRedialEvery is how often deck top dials a host that stopped answering again: a
// host that does not answer costs a refresh up to --host-timeout, so not on every one.
const topRedialEvery = 15 * time.Second

// ansiRedraw puts the cursor home and clears the screen below it: each frame is drawn
// over the last, with no full-screen library.
const ansiRedraw = "\x1b[H\x1b[J"

// NewCmdTop builds `deck top`.
func NewCmdTop(deps Deps, g *Globals, runF func(*TopOptions) error) *cobra.Command {
	opts := &TopOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show live CPU, memory, requests in flight and health per task and per host",
		Long: `Show each running task's CPU (percent of its cpu reservation, as ECS's CPUUtilization, and
vCPUs), memory (used / limit), requests in flight (from the load balancers, for a service
with a route) and health, and each host's totals against its capacity.

On a terminal the screen is redrawn every --interval until Ctrl-C; off a terminal, or with
--once, one snapshot is printed. Giving --interval keeps refreshing off a terminal too
(with -o json, one JSON document per line and refresh). A host that does not answer within
--interval (at most --host-timeout) is shown as unreachable; the others go on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Refresh = cmd.Flags().Changed("interval")
			if opts.Interval <= 0 {
				return flagErrorf("--interval must be positive, not %s", opts.Interval)
			}
			if runF != nil {
				return runF(opts)
			}
			return runTop(cmd.Context(), opts)
		},
	}
	addTopFlags(cmd, opts)
	return cmd
}

func addTopFlags(cmd *cobra.Command, opts *TopOptions) {
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "time between refreshes")
	cmd.Flags().BoolVar(&opts.Once, "once", false, "print one snapshot and exit, even on a terminal")
}

// Top is one refresh of deck top; the screen and the JSON come from it.
type Top struct {
	App   string    `json:"app"`
	Env   string    `json:"environment"`
	At    time.Time `json:"at"`
	Tasks []TopTask `json:"tasks"`
	Hosts []TopHost `json:"hosts"`
}

// TopTask is one running task.
type TopTask struct {
	Service string `json:"service"` // "" for a standalone task
	ID      string `json:"id"`
	Host    string `json:"host"`
	Healthy bool   `json:"healthy"`
	Health  string `json:"health"`
	// CPUPercent is the CPU used since the last reading relative to the task's cpu
	// reservation (ECS's CPUUtilization: 1024 units = one vCPU); VCPUs the same in cores.
	// Both are null until the task has two readings; CPUPercent also without a reservation.
	CPUPercent *float64 `json:"cpu_percent"`
	VCPUs      *float64 `json:"vcpus"`
	// MemoryBytes is the memory in use; MemoryLimitBytes the container's limit. Both 0
	// when the task's stats could not be read (Error says why).
	MemoryBytes      uint64 `json:"memory_bytes"`
	MemoryLimitBytes uint64 `json:"memory_limit_bytes"`
	// Requests is the requests in flight to the task, summed over the load balancers;
	// null when none routes to it.
	Requests *int   `json:"requests_in_flight"`
	Error    string `json:"error,omitempty"`
}

// TopHost is one host's totals: what deck's tasks of this app and environment use.
type TopHost struct {
	Name      string `json:"name"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	Tasks     int    `json:"tasks"`
	// VCPUs is the CPU the tasks use (those with a rate); CPUCapacity the host's cores.
	VCPUs       float64 `json:"vcpus"`
	CPUCapacity float64 `json:"cpu_capacity_vcpus"`
	// MemoryBytes is the memory the tasks use; MemoryCapacityBytes the host's.
	MemoryBytes         uint64 `json:"memory_bytes"`
	MemoryCapacityBytes uint64 `json:"memory_capacity_bytes"`
}

// topper samples one session's tasks: the autoscaler's sampler over every running task
// of the app, fed from the session's last read.
type topper struct {
	s       *pipeline.Session
	sampler *autoscale.Sampler
	timeout time.Duration

	mu    sync.Mutex
	tasks []autoscale.Task
	// lastTry is when each host that stopped answering was last dialled (Dialable); mu
	// guards it too.
	lastTry map[string]time.Time
}

func newTopper(s *pipeline.Session, timeout time.Duration) *topper {
	tp := &topper{s: s, timeout: timeout, lastTry: map[string]time.Time{}}
	tp.sampler = autoscale.NewSampler(autoscale.Source{
		Tasks: func() []autoscale.Task { tp.mu.Lock(); defer tp.mu.Unlock(); return tp.tasks },
		Host:  autoscale.HostsOf(s.Fleet.Host),
		Balancers: func() []autoscale.InFlightReader {
			return autoscale.BalancersOf(s.OpenedBalancers())
		},
	}, autoscale.Config{HostTimeout: timeout})
	now := time.Now()
	for _, h := range s.Obs.Hosts {
		if !h.Reachable {
			tp.lastTry[h.Spec.Name] = now // it just cost a timeout
		}
	}
	s.Dialable = func(host string) bool { // called for several hosts at once
		tp.mu.Lock()
		defer tp.mu.Unlock()
		if time.Since(tp.lastTry[host]) < topRedialEvery {
			return false
		}
		tp.lastTry[host] = time.Now()
		return true
	}
	tp.follow()
	return tp
}

// follow takes the running tasks of the session's last read as the ones to sample.
func (tp *topper) follow() {
	var tasks []autoscale.Task
	for _, h := range tp.s.Obs.Hosts {
		if !h.Reachable {
			continue
		}
		for _, t := range h.Tasks {
			if t.Running() {
				tasks = append(tasks, autoscale.TaskOf(t, h.Spec.Address))
			}
		}
	}
	tp.mu.Lock()
	tp.tasks = tasks
	tp.mu.Unlock()
}

// refresh reads the hosts again through the session (dialling the ones that stopped
// answering, now and then), and their capacity when not read yet.
func (tp *topper) refresh(ctx context.Context) error {
	if err := tp.s.Refresh(ctx); err != nil {
		return err
	}
	if err := tp.s.ReadCapacity(ctx); err != nil {
		return err
	}
	tp.follow()
	return nil
}

// sample reads the tasks' stats and the balancers' requests in flight, at once.
func (tp *topper) sample(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { tp.sampler.SampleStats(ctx, time.Now()) })
	wg.Go(func() { tp.sampler.SampleInFlight(ctx, time.Now()) })
	wg.Wait()
}

// frame makes what the last sample saw into a Top. A host whose stats did not answer is
// shown unreachable and taken out of the session: the next reads skip it until it is
// dialled again.
func (tp *topper) frame(w *world) *Top {
	s := tp.s
	top := &Top{App: w.app.Name, Env: w.env.Name, At: time.Now().UTC().Truncate(time.Millisecond), Tasks: []TopTask{}, Hosts: []TopHost{}}
	byContainer := map[string]providers.Task{}
	for _, h := range s.Obs.Hosts {
		for _, t := range h.Tasks {
			byContainer[t.ContainerID] = t
		}
	}
	hostIdx := map[string]int{}
	for _, h := range s.Obs.Hosts {
		th := TopHost{Name: h.Spec.Name, Reachable: h.Reachable}
		if h.Err != nil {
			th.Error = h.Err.Error()
		}
		if c, known := h.Capacity(); known && h.Reachable {
			th.CPUCapacity = float64(c.CPU) / 1024
			th.MemoryCapacityBytes = uint64(c.Memory) << 20
		}
		hostIdx[th.Name] = len(top.Hosts)
		top.Hosts = append(top.Hosts, th)
	}
	gone := map[string]error{}
	for _, r := range tp.sampler.Readings() {
		t := byContainer[r.Task.ContainerID]
		seen := s.Health[state.TaskID(r.Task.Host, r.Task.ContainerID)]
		tt := TopTask{Service: t.Service, ID: t.TaskID, Host: r.Task.Host, Healthy: seen.State == health.StateHealthy,
			Health: string(seen.State)}
		if seen.Detail != "" {
			tt.Health += ": " + seen.Detail
		}
		th := &top.Hosts[hostIdx[r.Task.Host]]
		th.Tasks++
		if r.Read {
			tt.MemoryBytes, tt.MemoryLimitBytes = r.Stats.MemoryBytes, r.Stats.MemoryLimitBytes
			th.MemoryBytes += r.Stats.MemoryBytes
		} else if r.StatsErr != nil {
			tt.Error = r.StatsErr.Error()
			if errors.Is(r.StatsErr, providers.ErrUnreachable) {
				gone[r.Task.Host] = r.StatsErr
			}
		}
		if r.CPUOK {
			v := r.VCPUs
			tt.VCPUs = &v
			th.VCPUs += v
			if pct, ok := providers.CPUPercent(v, r.Task.CPU); ok {
				tt.CPUPercent = &pct
			}
		}
		if r.InFlightOK {
			n := r.InFlight
			tt.Requests = &n
		}
		top.Tasks = append(top.Tasks, tt)
	}
	for host, err := range gone {
		th := &top.Hosts[hostIdx[host]]
		th.Reachable, th.Error = false, err.Error()
		s.MarkUnreachable(host, err)
		tp.mu.Lock()
		tp.lastTry[host] = time.Now()
		tp.mu.Unlock()
	}
	sort.SliceStable(top.Tasks, func(i, j int) bool {
		a, b := top.Tasks[i], top.Tasks[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Host+a.ID < b.Host+b.ID
	})
	return top
}

// statsTimeout bounds each host's stats read: a refresh's worth, within --host-timeout.
func statsTimeout(interval, hostTimeout time.Duration) time.Duration {
	return min(max(interval, 500*time.Millisecond), hostTimeout)
}

// topFirstWindow is the time between the first two stats readings: a CPU rate needs two,
// and the first screen (or the only one, off a terminal) should have it.
var topFirstWindow = time.Second

func runTop(ctx context.Context, o *TopOptions) error {
	deps, g := o.Deps, o.Globals
	w, s, err := readHosts(ctx, deps, g)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.ReadCapacity(ctx); err != nil {
		return err
	}
	live := !o.Once && (deps.IO.IsStdoutTTY() || o.Refresh)
	return topLoop(ctx, o, w, newTopper(s, statsTimeout(o.Interval, g.HostTimeout)), live)
}

// topLoop draws a frame, then, when live, a new one every interval until ctx ends.
func topLoop(ctx context.Context, o *TopOptions, w *world, tp *topper, live bool) error {
	tp.sample(ctx)
	if !pipeline.Pause(ctx, min(topFirstWindow, o.Interval)) {
		return nil
	}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		tp.sample(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := drawTop(o, tp.frame(w), live); err != nil {
			return err
		}
		if !live {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := tp.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func drawTop(o *TopOptions, top *Top, live bool) error {
	deps := o.Deps
	if o.Globals.Output == "json" {
		return json.NewEncoder(deps.IO.Out).Encode(top) // one line per refresh
	}
	var buf bytes.Buffer
	if live && deps.IO.IsStdoutTTY() {
		buf.WriteString(ansiRedraw)
	}
	printTop(&buf, colors(deps), top, live, o.Interval)
	_, err := deps.IO.Out.Write(buf.Bytes()) // one write: no half-drawn screen
	return err
}

func printTop(out *bytes.Buffer, c iostreams.Colors, top *Top, live bool, interval time.Duration) {
	fmt.Fprintf(out, "App %s, environment %s, at %s", top.App, top.Env, top.At.Local().Format("15:04:05"))
	if live {
		fmt.Fprintf(out, ", every %s (Ctrl-C to quit)", interval)
	}
	fmt.Fprint(out, "\n\n")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tTASK\tHOST\tCPU%\tVCPU\tMEMORY (MiB)\tREQUESTS\tHEALTH")
	for _, t := range top.Tasks {
		h := c.Green("healthy")
		if !t.Healthy {
			h = c.Red(orDash(t.Health))
		}
		mem := "-"
		if t.MemoryLimitBytes > 0 {
			mem = fmt.Sprintf("%s / %s", mib(t.MemoryBytes), mib(t.MemoryLimitBytes))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orDash(t.Service), t.ID, t.Host,
			optFloat(t.CPUPercent, "%.0f%%"), optFloat(t.VCPUs, "%.2f"), mem, optInt(t.Requests), h)
	}
	if len(top.Tasks) == 0 {
		fmt.Fprintln(tw, "(no running task)\t\t\t\t\t\t\t")
	}
	tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tTASKS\tCPU (vCPU used / capacity)\tMEMORY (MiB used / capacity)")
	for _, h := range top.Hosts {
		if !h.Reachable {
			fmt.Fprintf(tw, "%s\t%s\t\t\n", h.Name, c.Red("unreachable: "+h.Error))
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f / %.2f\t%s / %s\n", h.Name, h.Tasks, h.VCPUs, h.CPUCapacity,
			mib(h.MemoryBytes), mib(h.MemoryCapacityBytes))
	}
	tw.Flush()
}

func mib(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }

func optFloat(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

func optInt(v *int) string {
	if v == nil {
		return "-"
	}
	return strconv.Itoa(*v)
}
