package cli

import (
	"errors"
	"fmt"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner"
)

// DeployReport is what deck deploy, rollback and delete print with -o json: one document
// once the run ends, with the plan it applied, what it did per service and, when it failed,
// the error (with the failed tasks' stop reasons and log lines).
type DeployReport struct {
	App  string `json:"app"`
	Env  string `json:"environment"`
	Verb string `json:"command"` // deploy, rollback or delete
	// Plan is the plan applied (null when deck failed before it made one).
	Plan *planner.Plan `json:"plan"`
	// Applied is false when the plan was empty: nothing was done.
	Applied  bool                `json:"applied"`
	Services []ServiceResultJSON `json:"services"`
	// Rollbacks are what the automatic rollbacks did, per service rolled back.
	Rollbacks  []ServiceResultJSON `json:"rollbacks"`
	RolledBack bool                `json:"rolled_back"`
	// Volumes is deck delete's: the service's named volumes, removed (--volumes) or kept.
	Volumes *VolumesJSON `json:"volumes,omitempty"`
	// Forgotten is deck delete's: the service had no tasks, and its desired state was
	// recorded as deleted.
	Forgotten []string   `json:"forgotten,omitempty"`
	Error     *ErrorJSON `json:"error,omitempty"`
}

// ServiceResultJSON is one service's part of a run.
type ServiceResultJSON struct {
	Name string `json:"name"`
	// Revision is the number the service was recorded as (deck history), 0 for none.
	Revision int          `json:"revision,omitempty"`
	Started  []NewTaskRef `json:"started"`
	Stopped  int          `json:"stopped"`
	// Left are old tasks left running on unreachable hosts.
	Left int `json:"left"`
	// Endpoints are address:port of the service's running tasks after the run.
	Endpoints []string `json:"endpoints"`
	// URLs reach a routed service through each load balancer.
	URLs    []RouteURL `json:"urls,omitempty"`
	Tripped bool       `json:"circuit_breaker_tripped,omitempty"`
	Error   string     `json:"error,omitempty"`
}

// NewTaskRef is a task a run started and saw healthy.
type NewTaskRef struct {
	Host        string `json:"host"`
	TaskID      string `json:"task_id"`
	ContainerID string `json:"container_id"`
	Address     string `json:"address,omitempty"`
}

// RouteURL is where a load balancer serves a route: URL, with the Host header Host when
// the route matches on host names.
type RouteURL struct {
	URL  string `json:"url"`
	Host string `json:"host,omitempty"`
}

// VolumesJSON are deck delete's named volumes.
type VolumesJSON struct {
	Removed []string `json:"removed,omitempty"`
	Kept    []string `json:"kept,omitempty"`
}

// deployReport builds the report of a run that ended with err.
func deployReport(out *pipeline.Outcome, err error, verb string) *DeployReport {
	r := &DeployReport{Verb: verb, Plan: out.Plan, Services: []ServiceResultJSON{}, Rollbacks: []ServiceResultJSON{},
		Forgotten: out.Forgotten}
	if out.Session != nil {
		r.App, r.Env = out.Session.T.App.Name, out.Session.T.Env.Name
	}
	if out.Result != nil {
		r.Applied = true
		for _, sr := range out.Result.Services {
			r.Services = append(r.Services, serviceResultJSON(out, sr, out.Revisions[sr.Name]))
		}
	}
	for _, sr := range out.Rollbacks {
		r.Rollbacks = append(r.Rollbacks, serviceResultJSON(out, sr, 0))
	}
	var rb *pipeline.RolledBackError
	r.RolledBack = len(out.Rollbacks) > 0 || errors.As(err, &rb)
	if errors.Is(err, pipeline.ErrCancelled) {
		err = errors.New("cancelled; nothing was changed")
	}
	if err != nil {
		r.Error = newErrorJSON(err, 1)
		if out.Result != nil {
			r.Error.Message = fmt.Sprintf("%s failed: %v", verb, err)
		}
	}
	return r
}

func serviceResultJSON(out *pipeline.Outcome, sr executor.ServiceResult, revision int) ServiceResultJSON {
	j := ServiceResultJSON{Name: sr.Name, Revision: revision, Started: []NewTaskRef{}, Stopped: sr.Stopped, Left: sr.Left,
		Endpoints: []string{}, Tripped: sr.Tripped}
	for _, t := range sr.Created {
		j.Started = append(j.Started, NewTaskRef{Host: t.Host, TaskID: t.TaskID, ContainerID: t.ContainerID, Address: t.Address})
	}
	if out.Session != nil && out.Plan != nil {
		j.Endpoints = append(j.Endpoints, out.Endpoints(sr.Name)...)
		if r, ok := out.Plan.Routes[sr.Name]; ok {
			for _, b := range out.Session.T.Env.LoadBalancers {
				u := RouteURL{URL: "http://" + b.Listen + r.Path}
				if len(r.Hosts) > 0 {
					u.Host = r.Hosts[0]
				}
				j.URLs = append(j.URLs, u)
			}
		}
	}
	if sr.Err != nil {
		j.Error = sr.Err.Error()
	}
	return j
}

// writeDeployReport prints the report and ends the command: with status 1 when it carries
// an error (the document said why).
func writeDeployReport(deps Deps, r *DeployReport) error {
	if err := writeJSON(deps, r); err != nil {
		return err
	}
	if r.Error != nil {
		return &ExitError{Code: r.Error.Code}
	}
	return nil
}
