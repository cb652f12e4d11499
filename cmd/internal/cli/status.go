package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/health"
)

// StatusOptions are deck status's inputs.
type StatusOptions struct {
	Deps    Deps
	Globals *Globals
	// Watch is deck top (--watch); Top holds its --interval.
	Watch bool
	Top   TopOptions
}

// NewCmdStatus builds `deck status`.
func NewCmdStatus(deps Deps, g *Globals, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{Deps: deps, Globals: g, Top: TopOptions{Deps: deps, Globals: g}}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show services (desired, running, healthy), their tasks, and the hosts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Watch {
				opts.Top.Refresh = cmd.Flags().Changed("interval")
				if opts.Top.Interval <= 0 {
					return flagErrorf("--interval must be positive, not %s", opts.Top.Interval)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.Watch {
				return runTop(cmd.Context(), &opts.Top)
			}
			return runStatus(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Watch, "watch", false, "live CPU, memory, requests and health per task and host: deck top")
	addTopFlags(cmd, &opts.Top)
	return cmd
}

// Status is what deck status reports; the table and the JSON come from it.
type Status struct {
	App      string          `json:"app"`
	Env      string          `json:"environment"`
	Services []ServiceStatus `json:"services"`
	Hosts    []HostStatus    `json:"hosts"`
	// LoadBalancers are the environment's balancers and the app's routes on them.
	LoadBalancers []BalancerStatus `json:"load_balancers,omitempty"`
}

// BalancerStatus is one load balancer as read.
type BalancerStatus struct {
	Name      string        `json:"name"`
	Host      string        `json:"host"`
	Listen    string        `json:"listen"`
	Reachable bool          `json:"reachable"`
	Error     string        `json:"error,omitempty"`
	Routes    []RouteStatus `json:"routes"`
}

// RouteStatus is one service's route on a balancer.
type RouteStatus struct {
	Service  string   `json:"service"`
	Path     string   `json:"path"`
	Hosts    []string `json:"hosts,omitempty"`
	Targets  []string `json:"targets"`
	Draining []string `json:"draining,omitempty"`
}

// ServiceStatus is one service.
type ServiceStatus struct {
	Name      string       `json:"name"`
	Type      string       `json:"type,omitempty"`
	Desired   *int         `json:"desired"` // nil when the service has no manifest
	Running   int          `json:"running"`
	Healthy   int          `json:"healthy"`
	Revisions []string     `json:"revisions"`
	Tasks     []TaskStatus `json:"tasks"`
	// LastEvent is the controller's latest event of the service (a steady state reached,
	// tasks that keep failing and why); nil when it recorded none.
	LastEvent *pipeline.ServiceEvent `json:"last_event,omitempty"`
	// Scaling is an autoscaled service's range, targets and last action (status_scale.go).
	Scaling *ScalingStatus `json:"scaling,omitempty"`
}

// TaskStatus is one task.
type TaskStatus struct {
	ID       string `json:"id"`
	Host     string `json:"host"`
	State    string `json:"state"`
	Healthy  bool   `json:"healthy"`
	Health   string `json:"health"` // why it is (un)healthy
	Revision string `json:"revision"`
	Endpoint string `json:"endpoint,omitempty"`
	// Registered names the load balancers that route to the task.
	Registered []string `json:"registered,omitempty"`
}

// HostStatus is one host.
type HostStatus struct {
	Name       string             `json:"name"`
	URL        string             `json:"url"`
	Reachable  bool               `json:"reachable"`
	Error      string             `json:"error,omitempty"`
	Version    string             `json:"podman_version,omitempty"`
	Attributes map[string]string  `json:"attributes,omitempty"`
	Capacity   manifest.Resources `json:"capacity"`
	Used       manifest.Resources `json:"used"`
	Free       manifest.Resources `json:"free"`
	Tasks      int                `json:"tasks"`
}

func runStatus(ctx context.Context, o *StatusOptions) error {
	st, err := collectStatus(ctx, o.Deps, o.Globals)
	if err != nil {
		return err
	}
	if o.Globals.Output == "json" {
		return writeJSON(o.Deps, st)
	}
	printStatus(o.Deps, st)
	return nil
}

// collectStatus reads the hosts and probes every task. Service manifests are optional
// here: status must work while they are broken, or gone.
func collectStatus(ctx context.Context, deps Deps, g *Globals) (*Status, error) {
	w, err := loadManifests(deps, g, false)
	if err != nil {
		return nil, err
	}
	w.services, _ = manifest.LoadServices(w.app, w.env.Name, deps.LookupEnv)
	s, err := w.open(ctx, deps, g)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// The services' latest events are read while the capacity is: one round trip to each
	// host instead of two in a row.
	var events map[string]pipeline.ServiceEvent
	read := make(chan struct{})
	go func() {
		defer close(read)
		events = pipeline.ReadServiceEvents(ctx, s)
	}()
	err = s.ReadCapacity(ctx)
	<-read
	if err != nil {
		return nil, err
	}
	st := buildStatus(w, s)
	for i := range st.Services {
		if ev, ok := events[st.Services[i].Name]; ok {
			st.Services[i].LastEvent = &ev
		}
	}
	addScaling(ctx, w, s, st)
	return st, nil
}

func writeJSON(deps Deps, v any) error {
	enc := json.NewEncoder(deps.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func buildStatus(w *world, s *pipeline.Session) *Status {
	st := &Status{App: w.app.Name, Env: w.env.Name}
	byName := map[string]*ServiceStatus{}
	get := func(name string) *ServiceStatus {
		if s := byName[name]; s != nil {
			return s
		}
		s := &ServiceStatus{Name: name}
		byName[name] = s
		return s
	}
	for _, svc := range w.services {
		s := get(svc.Name)
		s.Type = string(svc.Type)
		if svc.Type != manifest.ScheduledJob { // a schedule, not a count
			d := svc.Count.Value
			s.Desired = &d
		}
	}
	for _, h := range s.Obs.Hosts {
		st.Hosts = append(st.Hosts, hostStatus(h))
		hs := &st.Hosts[len(st.Hosts)-1]
		for _, t := range h.Tasks {
			if spec := t.Meta.Spec; spec != nil && t.Running() {
				hs.Used.CPU += spec.CPU
				hs.Used.Memory += spec.Memory
			}
			if t.Service == "" {
				continue // a standalone task of an image: it belongs to no service
			}
			svc := get(t.Service)
			seen := s.Health[state.TaskID(h.Spec.Name, t.ContainerID)]
			ts := TaskStatus{ID: t.TaskID, Host: h.Spec.Name, State: t.State, Revision: t.Revision,
				Endpoint: s.Endpoint(t), Healthy: seen.State == health.StateHealthy, Health: string(seen.State)}
			if seen.Detail != "" {
				ts.Health += ": " + seen.Detail
			}
			if t.Running() && t.Meta.Kind == "" { // a job's runs and standalone tasks are in no count
				svc.Running++
			}
			if ts.Healthy {
				svc.Healthy++
			}
			svc.Tasks = append(svc.Tasks, ts)
			if !slices.Contains(svc.Revisions, t.Revision) {
				svc.Revisions = append(svc.Revisions, t.Revision)
			}
		}
		if h.Reachable {
			hs.Free = manifest.Resources{CPU: hs.Capacity.CPU - hs.Used.CPU, Memory: hs.Capacity.Memory - hs.Used.Memory}
		}
	}
	registered := map[string][]string{} // address -> balancers
	for _, bo := range s.Obs.Balancers {
		bs := BalancerStatus{Name: bo.Spec.Name, Host: bo.Spec.Host, Listen: bo.Spec.Listen, Reachable: bo.Reachable, Routes: []RouteStatus{}}
		if bo.Err != nil {
			bs.Error = bo.Err.Error()
		}
		for _, name := range slices.Sorted(maps.Keys(bo.Routes)) {
			r := bo.Routes[name]
			bs.Routes = append(bs.Routes, RouteStatus{Service: name, Path: r.Path, Hosts: r.Hosts, Targets: r.Targets, Draining: r.Draining})
			for _, a := range r.Targets {
				registered[a] = append(registered[a], bo.Spec.Name)
			}
		}
		st.LoadBalancers = append(st.LoadBalancers, bs)
	}
	for _, svc := range byName {
		for i := range svc.Tasks {
			svc.Tasks[i].Registered = registered[svc.Tasks[i].Endpoint]
		}
	}
	st.Services = []ServiceStatus{} // [] in JSON when there is none, not null
	for _, s := range byName {
		sort.Slice(s.Tasks, func(i, j int) bool { return s.Tasks[i].Host+s.Tasks[i].ID < s.Tasks[j].Host+s.Tasks[j].ID })
		sort.Strings(s.Revisions)
		st.Services = append(st.Services, *s)
	}
	sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].Name < st.Services[j].Name })
	return st
}

func hostStatus(h providers.HostObservation) HostStatus {
	hs := HostStatus{Name: h.Spec.Name, URL: h.Spec.URL, Reachable: h.Reachable, Version: h.Info.Version,
		Attributes: h.Spec.Attributes, Tasks: len(h.Tasks)}
	if h.Err != nil {
		hs.Error = h.Err.Error()
	}
	if h.Reachable {
		hs.Capacity, _ = h.Capacity()
	}
	return hs
}

func printStatus(deps Deps, st *Status) {
	c := colors(deps)
	out := deps.IO.Out
	fmt.Fprintf(out, "App %s, environment %s\n\n", st.App, st.Env)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tTYPE\tDESIRED\tRUNNING\tHEALTHY\tREVISIONS")
	for _, s := range st.Services {
		desired := "-"
		if s.Desired != nil {
			desired = strconv.Itoa(*s.Desired)
		}
		typ := s.Type
		if typ == "" {
			typ = "(no manifest)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", s.Name, typ, desired, s.Running, s.Healthy, strings.Join(s.Revisions, ","))
	}
	tw.Flush()
	printEvents(deps, st.Services)
	printScaling(deps, st.Services)
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tTASK\tHOST\tSTATE\tHEALTH\tREVISION\tENDPOINT")
	for _, s := range st.Services {
		for _, t := range s.Tasks {
			health := c.Green("healthy")
			if !t.Healthy {
				health = c.Red("unhealthy")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, t.ID, t.Host, t.State, health, t.Revision, t.Endpoint)
		}
	}
	tw.Flush()
	fmt.Fprintln(out)
	printHosts(deps, st.Hosts)
	printBalancers(deps, st.LoadBalancers)
}

// printEvents shows the controller's latest event of each service that has one, but not
// a failure the service has since got over (a deploy fixed it, and the controller, with
// nothing to do, recorded nothing since): deck events keeps it.
func printEvents(deps Deps, services []ServiceStatus) {
	for _, s := range services {
		steady := s.Desired != nil && s.Running == *s.Desired && s.Healthy == *s.Desired
		if ev := s.LastEvent; ev != nil && !(steady && ev.Reason != "") {
			line := ev.Time.Local().Format("15:04:05") + " " + ev.Message
			if ev.Reason != "" {
				line += " Last failure: " + ev.Reason
			}
			fmt.Fprintln(deps.IO.Out, line)
		}
	}
}

func printBalancers(deps Deps, bs []BalancerStatus) {
	if len(bs) == 0 {
		return
	}
	c := colors(deps)
	out := deps.IO.Out
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOAD BALANCER\tLISTEN\tSERVICE\tPATH\tHOSTS\tTARGETS\tDRAINING")
	for _, b := range bs {
		if !b.Reachable {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\t\n", b.Name, b.Listen, c.Red("unreachable: "+b.Error))
			continue
		}
		if len(b.Routes) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t(no routes)\t\t\t\t\n", b.Name, b.Listen)
		}
		for _, r := range b.Routes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", b.Name, b.Listen, r.Service, r.Path, orDash(strings.Join(r.Hosts, ",")), len(r.Targets), len(r.Draining))
		}
	}
	tw.Flush()
}

func printHosts(deps Deps, hosts []HostStatus) {
	c := colors(deps)
	tw := tabwriter.NewWriter(deps.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tREACHABLE\tPODMAN\tCPU USED/FREE\tMEMORY USED/FREE (MiB)\tTASKS\tATTRIBUTES\tURL")
	for _, h := range hosts {
		reach := c.Green("yes")
		if !h.Reachable {
			reach = c.Red("no")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d/%d\t%d\t%s\t%s\n", h.Name, reach, orDash(h.Version),
			h.Used.CPU, h.Free.CPU, h.Used.Memory, h.Free.Memory, h.Tasks, attrs(h.Attributes), h.URL)
	}
	tw.Flush()
	for _, h := range hosts {
		if !h.Reachable {
			fmt.Fprintf(deps.IO.Out, "%s %s: %s\n", c.Red("unreachable"), h.Name, h.Error)
		}
	}
}

func attrs(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	if len(kv) == 0 {
		return "-"
	}
	return strings.Join(kv, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
