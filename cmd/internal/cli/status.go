package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// StatusOptions are deck status's inputs.
type StatusOptions struct {
	Deps    Deps
	Globals *Globals
}

// NewCmdStatus builds `deck status`.
func NewCmdStatus(deps Deps, g *Globals, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{Deps: deps, Globals: g}
	return &cobra.Command{
		Use:   "status",
		Short: "Show services (desired, running, healthy), their tasks, and the hosts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runStatus(cmd.Context(), opts)
		},
	}
}

// Status is what deck status reports; the table and the JSON come from it.
type Status struct {
	App      string          `json:"app"`
	Env      string          `json:"environment"`
	Services []ServiceStatus `json:"services"`
	Hosts    []HostStatus    `json:"hosts"`
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
	if err := w.observe(ctx, deps); err != nil {
		return nil, err
	}
	defer w.Close()
	return buildStatus(ctx, w), nil
}

func writeJSON(deps Deps, v any) error {
	enc := json.NewEncoder(deps.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func buildStatus(ctx context.Context, w *world) *Status {
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
		d := svc.Count.Value
		s.Desired = &d
	}
	type probeJob struct {
		svc  *ServiceStatus
		idx  int
		task providers.Task
	}
	var jobs []probeJob
	for _, h := range w.obs.Hosts {
		hs := HostStatus{Name: h.Spec.Name, URL: h.Spec.URL, Reachable: h.Reachable, Version: h.Info.Version,
			Attributes: h.Spec.Attributes, Tasks: len(h.Tasks)}
		if h.Err != nil {
			hs.Error = h.Err.Error()
		}
		if h.Reachable {
			hs.Capacity = h.Capacity()
		}
		for _, t := range h.Tasks {
			s := get(t.Service)
			ts := TaskStatus{ID: t.TaskID, Host: h.Spec.Name, State: t.State, Revision: t.Revision,
				Endpoint: endpoint(w, h.Spec.Name, t.Labels)}
			if t.Running() {
				s.Running++
				td := taskDef(t)
				hs.Used.CPU += td.CPU
				hs.Used.Memory += td.Memory
			}
			s.Tasks = append(s.Tasks, ts)
			jobs = append(jobs, probeJob{svc: s, idx: len(s.Tasks) - 1, task: t})
			if !contains(s.Revisions, t.Revision) {
				s.Revisions = append(s.Revisions, t.Revision)
			}
		}
		hs.Free = manifest.Resources{CPU: hs.Capacity.CPU - hs.Used.CPU, Memory: hs.Capacity.Memory - hs.Used.Memory}
		if !h.Reachable {
			hs.Free = manifest.Resources{}
		}
		st.Hosts = append(st.Hosts, hs)
	}
	// Probe every running task at once: health is seen now, not remembered.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, j := range jobs {
		wg.Add(1)
		go func(j probeJob) {
			defer wg.Done()
			ok, why := probeTask(ctx, w, client, j.task, j.svc.Tasks[j.idx].Endpoint)
			mu.Lock()
			defer mu.Unlock()
			j.svc.Tasks[j.idx].Healthy, j.svc.Tasks[j.idx].Health = ok, why
			if ok {
				j.svc.Healthy++
			}
		}(j)
	}
	wg.Wait()
	for _, s := range byName {
		sort.Slice(s.Tasks, func(i, j int) bool { return s.Tasks[i].Host+s.Tasks[i].ID < s.Tasks[j].Host+s.Tasks[j].ID })
		sort.Strings(s.Revisions)
		st.Services = append(st.Services, *s)
	}
	sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].Name < st.Services[j].Name })
	return st
}

// taskDef reads a task's definition from its label.
func taskDef(t providers.Task) manifest.TaskDef {
	var td manifest.TaskDef
	_ = json.Unmarshal([]byte(t.Labels[providers.LabelSpec]), &td)
	return td
}

// probeTask checks a task's health the way the executor does.
func probeTask(ctx context.Context, w *world, client *http.Client, t providers.Task, ep string) (bool, string) {
	if !t.Running() {
		return false, t.State
	}
	hc := taskDef(t).Healthcheck
	switch {
	case hc == nil:
		return true, "running (no health check)"
	case hc.Path != "":
		if ep == "" {
			return false, "no published port"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ep+hc.Path, nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode < 400, "GET " + hc.Path + ": " + resp.Status
	default:
		h := w.fleet.Host(t.Host)
		if h == nil {
			return false, "host unreachable"
		}
		ok, err := h.HealthCheck(ctx, t.ContainerID)
		if err != nil {
			return false, err.Error()
		}
		if ok {
			return true, "health check command passed"
		}
		return false, "health check command failed"
	}
}

// endpoint is ADDRESS:PORT of the task's published service port, or "".
func endpoint(w *world, host string, labels map[string]string) string {
	port, _ := strconv.Atoi(labels[providers.LabelPort])
	if port == 0 {
		return ""
	}
	for _, h := range w.obs.Hosts {
		if h.Spec.Name != host {
			continue
		}
		for _, t := range h.Tasks {
			if t.Labels[providers.LabelTask] == labels[providers.LabelTask] {
				if hp := t.HostPort(port); hp != 0 {
					return h.Spec.Address + ":" + strconv.Itoa(hp)
				}
			}
		}
	}
	return ""
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
