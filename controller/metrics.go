package controller

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/health"
)

// Metrics are the controllers' Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	reg                       *prometheus.Registry
	desired, running, healthy *prometheus.GaugeVec
	leading                   *prometheus.GaugeVec
	duration                  *prometheus.HistogramVec
	reconciles                *prometheus.CounterVec
	placements, failures      *prometheus.CounterVec
	scaling                   *prometheus.CounterVec
	reconnects                *prometheus.CounterVec

	mu       sync.Mutex
	reported map[[2]string]map[string]bool // app, env -> the services whose gauges are set
}

// NewMetrics registers deck's metrics (and the Go runtime's) on a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	svc := []string{"app", "env", "service"}
	gauge := func(name, help string, labels []string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "deck", Name: name, Help: help}, labels)
		m.reg.MustRegister(g)
		return g
	}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "deck", Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.desired = gauge("service_desired_tasks", "Tasks the service should run.", svc)
	m.running = gauge("service_running_tasks", "Tasks of the service running on reachable hosts.", svc)
	m.healthy = gauge("service_healthy_tasks", "Running tasks of the service seen healthy.", svc)
	m.leading = gauge("controller_leader", "1 while this controller leads the environment.", []string{"app", "env"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "deck", Name: "reconcile_duration_seconds",
		Help:    "How long one reconcile took, from reading the hosts to the last change applied.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"app", "env"})
	m.reg.MustRegister(m.duration)
	m.reconciles = counter("reconciles_total", "Reconciles, by result (ok or error).", []string{"app", "env", "result"})
	m.placements = counter("placements_total", "Tasks started by the controller.", svc)
	m.failures = counter("task_failures_total", "New tasks of a service that failed to start or to become healthy.", svc)
	m.scaling = counter("scaling_actions_total", "Autoscaling actions, by direction (out or in).", append(svc, "direction"))
	m.reconnects = counter("event_stream_reconnects_total", "Times a host's event stream broke and was followed again.", []string{"host"})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) leader(app, env string, on bool) {
	if m == nil {
		return
	}
	v := 0.0
	if on {
		v = 1
	}
	m.leading.WithLabelValues(app, env).Set(v)
}

func (m *Metrics) reconciled(app, env string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(app, env).Observe(d.Seconds())
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reconciles.WithLabelValues(app, env, result).Inc()
}

func (m *Metrics) placed(app, env, service string, n int) {
	if m != nil && n > 0 {
		m.placements.WithLabelValues(app, env, service).Add(float64(n))
	}
}

func (m *Metrics) failed(app, env, service string, tasks int) {
	if m != nil {
		m.failures.WithLabelValues(app, env, service).Add(float64(tasks))
	}
}

// Scaled counts one autoscaling action.
func (m *Metrics) Scaled(app, env, service, direction string) {
	if m != nil {
		m.scaling.WithLabelValues(app, env, service, direction).Inc()
	}
}

func (m *Metrics) reconnect(host string) {
	if m != nil {
		m.reconnects.WithLabelValues(host).Inc()
	}
}

// observe sets the per-service gauges from what a reconcile read.
func (m *Metrics) observe(app, env string, s *pipeline.Session, services []manifest.ServiceSpec) {
	if m == nil {
		return
	}
	running, healthy := map[string]int{}, map[string]int{}
	for t := range s.Snap.EachTask() {
		if t.Running() && t.HostReachable && t.Meta.Kind == "" {
			running[t.Service]++
			if t.Health == health.StateHealthy {
				healthy[t.Service]++
			}
		}
	}
	now := map[string]bool{}
	for _, svc := range services {
		now[svc.Name] = true
		m.desired.WithLabelValues(app, env, svc.Name).Set(float64(svc.Count.Value))
		m.running.WithLabelValues(app, env, svc.Name).Set(float64(running[svc.Name]))
		m.healthy.WithLabelValues(app, env, svc.Name).Set(float64(healthy[svc.Name]))
	}
	// A service deleted since (deck delete) leaves the gauges, not at its last values.
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reported == nil {
		m.reported = map[[2]string]map[string]bool{}
	}
	key := [2]string{app, env}
	for name := range m.reported[key] {
		if !now[name] {
			for _, g := range []*prometheus.GaugeVec{m.desired, m.running, m.healthy} {
				g.DeleteLabelValues(app, env, name)
			}
		}
	}
	m.reported[key] = now
}

// Handler serves /metrics, and /healthz with each controller's status as JSON: 200 when
// every controller's last reconcile (if it leads) succeeded, 503 otherwise.
func (m *Metrics) Handler(controllers []*Controller) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		var out []Status
		code := http.StatusOK
		for _, c := range controllers {
			st := c.Status()
			if st.Leading && st.LastError != "" {
				code = http.StatusServiceUnavailable
			}
			out = append(out, st)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(out)
	})
	return mux
}
