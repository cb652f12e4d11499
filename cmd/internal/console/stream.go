package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// view is what the page and its sections render.
type view struct {
	Env         string
	Envs        []string
	AllowDeploy bool
	CSRF        string
	Refresh     time.Duration

	Status    *Status
	StatusErr string

	PlanRead    bool
	Plan        string
	PlanChanges bool
	PlanErr     string

	HistoryRead bool
	History     []Revision
	HistoryErr  string

	EventsRead bool
	Events     []Event
	EventsErr  string

	LogsRead bool
	Logs     map[string][]LogLine
	LogsErr  string

	Op      *operationView
	Updated time.Time
}

// sections are the parts of the page the stream replaces, by element id.
var sections = []string{"services", "tasks", "hosts", "plan", "history", "events", "logs", "operation", "updated"}

// maxEvents is how many of the newest events the page keeps.
const maxEvents = 50

// stream sends the page's sections as server-sent events: each section whenever what it
// shows changed, read again every Refresh, until the browser goes away.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	env, _, ok := s.env(r)
	if !ok {
		http.Error(w, "no environment "+env+" in this app", http.StatusNotFound)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	ctx := r.Context()
	b := s.opts.Backend
	v := s.view(env)
	sent := map[string]string{}
	send := func() error {
		for _, id := range sections {
			var buf bytes.Buffer
			if err := s.tmpl.ExecuteTemplate(&buf, id, v); err != nil {
				return err
			}
			html := buf.String()
			if sent[id] == html {
				continue
			}
			sent[id] = html
			msg, _ := json.Marshal(struct {
				ID   string `json:"id"`
				HTML string `json:"html"`
			}{id, html})
			if _, err := fmt.Fprintf(w, "event: section\ndata: %s\n\n", msg); err != nil {
				return err
			}
		}
		fl.Flush()
		return nil
	}
	opDone := false  // the latest deploy from the page had ended at the last read
	var last *Status // the status of the last read
	for tick := 0; ; tick++ {
		st, err := b.Status(ctx, env)
		// A task that died or a host that went away changes the pending plan at once: a
		// page showing a dead task beside "No changes" would tell two stories.
		moved := st != nil && last != nil && !reflect.DeepEqual(st, last)
		if st != nil {
			last = st
		}
		v.Status, v.StatusErr = st, errText(err)
		v.Op = s.ops.snapshot(env)
		v.Updated = time.Now()
		if err := send(); err != nil {
			s.opts.Logf("console: %v", err)
			return
		}
		s.readEvents(r, env, &v)
		if st != nil {
			var names []string
			for _, svc := range st.Services {
				names = append(names, svc.Name)
			}
			logs, err := b.Logs(ctx, env, names, s.opts.LogTail)
			v.Logs, v.LogsErr, v.LogsRead = logs, errText(err), true
		}
		if err := send(); err != nil {
			return
		}
		// The plan and the history change with deploys and with what runs: every fifth
		// read, and at once when the tasks or hosts changed or a deploy from this page has
		// just ended.
		done := v.Op != nil && v.Op.Done
		if tick%5 == 0 || moved || (done && !opDone) {
			text, changes, err := b.Plan(ctx, env)
			v.Plan, v.PlanChanges, v.PlanErr, v.PlanRead = text, changes, errText(err), true
			revs, err := b.History(ctx, env)
			v.History, v.HistoryErr, v.HistoryRead = revs, errText(err), true
			if err := send(); err != nil {
				return
			}
		}
		opDone = done
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.opts.Refresh):
		}
	}
}

// readEvents adds the events recorded since the newest the page has, keeping maxEvents.
func (s *Server) readEvents(r *http.Request, env string, v *view) {
	var since time.Time
	if n := len(v.Events); n > 0 {
		since = v.Events[n-1].Time.Add(-time.Nanosecond) // events of one instant may come in two reads
	}
	evs, err := s.opts.Backend.Events(r.Context(), env, since)
	v.EventsErr, v.EventsRead = errText(err), true
	for _, e := range evs {
		if !slices.Contains(v.Events, e) {
			v.Events = append(v.Events, e)
		}
	}
	sort.SliceStable(v.Events, func(i, j int) bool { return v.Events[i].Time.Before(v.Events[j].Time) })
	if len(v.Events) > maxEvents {
		v.Events = slices.Clone(v.Events[len(v.Events)-maxEvents:])
	}
}

func (s *Server) view(env string) view {
	names, _ := s.opts.Backend.Environments()
	return view{Env: env, Envs: names, AllowDeploy: s.opts.AllowDeploy, CSRF: s.csrf, Refresh: s.opts.Refresh}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// hostTasks are the tasks on one host, for the tasks section.
type hostTasks struct {
	Host  string
	Tasks []hostTask
}

type hostTask struct {
	Service string
	Task
}

var funcs = template.FuncMap{
	"byHost": func(st *Status) []hostTasks {
		if st == nil {
			return nil
		}
		var out []hostTasks
		at := map[string]int{}
		for _, h := range st.Hosts {
			at[h.Name] = len(out)
			out = append(out, hostTasks{Host: h.Name})
		}
		for _, svc := range st.Services {
			for _, t := range svc.Tasks {
				i, ok := at[t.Host]
				if !ok {
					at[t.Host] = len(out)
					i = len(out)
					out = append(out, hostTasks{Host: t.Host})
				}
				out[i].Tasks = append(out[i].Tasks, hostTask{Service: svc.Name, Task: t})
			}
		}
		return out
	},
	"clock": func(t time.Time) string { return t.Local().Format("15:04:05") },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"join":  strings.Join,
	"deref": func(p *int) int { return *p },
	"add":   func(a, b int64) int64 { return a + b },
	"dash": func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	},
	"desired": func(d *int) string {
		if d == nil {
			return "-"
		}
		return fmt.Sprint(*d)
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}
