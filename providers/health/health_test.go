package health

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

func TestTheRuleIs2xxAnd3xx(t *testing.T) {
	for code, want := range map[int]bool{199: false, 200: true, 204: true, 302: true, 399: true, 400: false, 404: false, 500: false, 503: false} {
		assert.Equal(t, want, StatusHealthy(code), "%d", code)
	}
}

func TestProbeHTTP(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	running := providers.Task{State: "running"}
	hc := &manifest.Healthcheck{Path: "/healthz", Timeout: time.Second}
	r := Prober{}.Probe(context.Background(), nil, running, hc, addr)
	assert.True(t, r.Healthy, r.Detail)
	status = http.StatusServiceUnavailable
	r = Prober{}.Probe(context.Background(), nil, running, hc, addr)
	assert.False(t, r.Healthy)
	assert.Equal(t, "GET http://"+addr+"/healthz: 503 Service Unavailable", r.Detail)
	r = Prober{}.Probe(context.Background(), nil, providers.Task{State: "exited", ExitCode: 3}, hc, addr)
	assert.Equal(t, Result{Detail: "exited (exit code 3)"}, r)
}

func TestClassifyGivesANewTaskItsDeadline(t *testing.T) {
	hc := &manifest.Healthcheck{Path: "/", Interval: time.Second, Timeout: time.Second, Retries: 3, StartPeriod: 2 * time.Second}
	assert.Equal(t, 6*time.Second, Deadline(hc))
	fail := Result{Detail: "503"}
	assert.Equal(t, StateStarting, Classify(fail, true, 5*time.Second, hc))
	assert.Equal(t, StateUnhealthy, Classify(fail, true, 7*time.Second, hc))
	assert.Equal(t, StateHealthy, Classify(Result{Healthy: true}, true, time.Millisecond, hc))
	assert.Equal(t, StateUnhealthy, Classify(Result{Healthy: true}, false, time.Hour, hc))
	// No check: healthy once it has run MinRunning.
	assert.Equal(t, StateStarting, Classify(Result{Healthy: true}, true, 100*time.Millisecond, nil))
	assert.Equal(t, StateHealthy, Classify(Result{Healthy: true}, true, 2*time.Second, nil))
}
