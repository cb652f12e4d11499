package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/controller"
	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/history"
)

// The controller at 10,000 tasks on the fake provider: 50 hosts, 100 services of 100
// tasks, all running and healthy, as deploy recorded them. A steady reconcile (a resync)
// reads every host, probes every task, plans and finds nothing to do.
const (
	ctlHosts    = 50
	ctlServices = 100
	ctlPerSvc   = 100
)

type ctlWorld struct {
	cloud *fake.Cloud
	app   *manifest.App
	env   *manifest.Environment
	locks atomic.Int32
}

func newCtlWorld(tb testing.TB) *ctlWorld {
	w := &ctlWorld{cloud: fake.NewCloud(), app: &manifest.App{Name: "shop"}, env: &manifest.Environment{Name: "prod"}}
	var hosts []providers.Host
	past := func() time.Time { return time.Now().Add(-time.Hour) } // every task has run for an hour
	for i := range ctlHosts {
		spec := manifest.HostSpec{Name: fmt.Sprintf("h%03d", i), URL: "fake://h", Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)}
		h := w.cloud.AddHost(spec, manifest.Resources{CPU: 1 << 20, Memory: 1 << 20})
		h.AddImage("web:1")
		h.SetClock(past)
		w.env.Hosts = append(w.env.Hosts, spec)
		hosts = append(hosts, h)
	}
	ctx := context.Background()
	store := history.New(hosts, "shop", "prod")
	s, err := pipeline.Open(ctx, pipeline.Target{App: w.app, Env: w.env, Dialer: w.cloud})
	require.NoError(tb, err)
	defer s.Close()
	var specs []manifest.ServiceSpec
	for i := range ctlServices {
		svc := manifest.ServiceSpec{App: "shop", Env: "prod", Name: fmt.Sprintf("svc%03d", i), Type: manifest.BackendService,
			Task:       manifest.TaskDef{Image: "web:1", CPU: 64, Memory: 64, StopTimeout: time.Second},
			Count:      manifest.Count{Value: ctlPerSvc},
			Deployment: manifest.Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200},
			Placement:  manifest.Placement{Strategy: "spread"}}
		specs = append(specs, svc)
		rev := planner.NewRevision(svc.Name, svc.Task)
		r, err := store.Create(ctx, history.Revision{Service: svc.Name, ID: rev.ID, Task: rev.Task, Kind: history.KindDeploy})
		require.NoError(tb, err)
		require.NoError(tb, store.Finish(ctx, svc.Name, r.Number, history.Completed, ""))
		desired := providers.DesiredStateOf(svc)
		for j := range ctlPerSvc {
			in := executor.TaskInput{App: "shop", Env: "prod", Host: hosts[(i+j)%ctlHosts].Name(),
				TaskID: fmt.Sprintf("t%03d%04d", i, j), Rev: rev, Desired: &desired}
			_, err := w.cloud.Host(in.Host).Run(ctx, executor.TaskSpec(in))
			require.NoError(tb, err)
		}
	}
	require.NoError(tb, pipeline.WriteDesired(ctx, s, specs, nil))
	return w
}

func (w *ctlWorld) controller() *controller.Controller {
	return controller.New(controller.Config{Target: pipeline.Target{App: w.app, Env: w.env, Dialer: w.cloud},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Lock: func(context.Context, *pipeline.Session) (pipeline.Lease, error) {
			w.locks.Add(1)
			return nil, fmt.Errorf("a steady reconcile must not lock")
		}})
}

// BenchmarkControllerSteadyReconcile10kTasks times one full reconcile of 10,000 healthy
// tasks and reports the heap in use after it (the fake provider's own copy of the 10,000
// containers included, so the controller's share is less).
func BenchmarkControllerSteadyReconcile10kTasks(b *testing.B) {
	w := newCtlWorld(b)
	c := w.controller()
	ctx := context.Background()
	for b.Loop() {
		require.NoError(b, c.Once(ctx))
	}
	require.Zero(b, w.locks.Load(), "nothing to do, so no lock taken")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MB-heap")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "MB-sys")
	runtime.KeepAlive(w)
	runtime.KeepAlive(c)
}
