package main

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// maxSlow bounds /slow?d=...
const maxSlow = time.Minute

type config struct {
	greeting        string
	task            string // "task T on host H (service S, revision R)"
	started         time.Time
	readyAfter      time.Duration
	never           bool // READY_AFTER=never
	healthStatus    int  // HEALTH_STATUS; 0 when unset
	shutdownTimeout time.Duration
	// sick, set and cleared by SIGUSR1, makes /healthz answer 500.
	sick *atomic.Bool
}

// toggleSick makes /healthz fail, or pass again, and returns the status it answers now
// (ready or not).
func (c config) toggleSick() int {
	if !c.sick.Load() {
		c.sick.Store(true)
		return http.StatusInternalServerError
	}
	c.sick.Store(false)
	return http.StatusOK
}

func (c config) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", c.hello)
	mux.HandleFunc("/slow", c.slow)
	mux.HandleFunc("/burn", c.burn)
	mux.HandleFunc("/healthz", c.healthz)
	return mux
}

func (c config) hello(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s from %s\n", c.greeting, c.task)
}

// slow answers like / after d (at most a minute), to show that draining a task lets slow
// requests finish. A client that goes away ends the wait.
func (c config) slow(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil || d < 0 {
		http.Error(w, "want /slow?d=2s", http.StatusBadRequest)
		return
	}
	t := time.NewTimer(min(d, maxSlow))
	defer t.Stop()
	select {
	case <-t.C:
		c.hello(w, r)
	case <-r.Context().Done():
	}
}

func (c config) healthz(w http.ResponseWriter, r *http.Request) {
	switch {
	case c.sick.Load():
		http.Error(w, "made unhealthy by SIGUSR1", http.StatusInternalServerError)
	case c.healthStatus != 0:
		w.WriteHeader(c.healthStatus)
		fmt.Fprintf(w, "HEALTH_STATUS=%d\n", c.healthStatus)
	case c.never || time.Since(c.started) < c.readyAfter:
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ok")
	}
}
