package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
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
// tasks and reports memory, in MB:
//
//   - MB-heap: the heap in use after the reconciles and a GC (the fake provider's own copy
//     of the 10,000 containers included, so the controller's share is less);
//     MB-heap-world is the same before the controller runs: the fake cloud's share.
//   - MB-ctl-live: the controller's own live heap at its peak during the reconciles: the
//     most any GC found live, less what was live once the world was built.
//   - MB-sys: what the Go runtime has taken from the OS (it may have returned some since).
//   - MB-rss-world: the process's resident memory once the world is built and collected,
//     before the controller runs: the test binary, the runtime and the fake cloud.
//   - MB-rss: resident memory after the reconciles; MB-hwm: its peak during them (the
//     peak is reset once the world is built, when the kernel allows it: see resetHWM;
//     hwm-reset is 1 when it was).
//
// The fake cloud lives in the same process and its heap paces the GC too: with the
// default GOGC the heap may grow to twice all that is live, the world's ~31 MB included
// (the fake shares equal records and task definitions between its hosts and containers,
// as hosts of their own would not need to), so MB-hwm - MB-rss-world overstates what a
// controller of its own would take. Issue 8's target is MB-hwm < 100.
// BenchmarkControllerSteadyReconcile10kTasksMemLimit runs the same with a soft limit.
//
// They are read from /proc/self/status (Linux); elsewhere the RSS metrics are left out.
func BenchmarkControllerSteadyReconcile10kTasks(b *testing.B) {
	benchSteadyReconcile(b, 0)
}

// BenchmarkControllerSteadyReconcile10kTasksMemLimit is the steady reconcile with the Go
// runtime's soft memory limit at 100 MiB (what GOMEMLIMIT=100MiB sets for the controller
// command), for the whole process, the fake cloud included: the GC then collects more
// often as the heap nears it, instead of letting it double.
func BenchmarkControllerSteadyReconcile10kTasksMemLimit(b *testing.B) {
	benchSteadyReconcile(b, 100<<20)
}

func benchSteadyReconcile(b *testing.B, memLimit int64) {
	w := newCtlWorld(b)
	c := w.controller()
	ctx := context.Background()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapWorld := float64(ms.HeapInuse) / (1 << 20)
	liveWorld := liveHeap()
	rssWorld, _, rssOK := procMemory()
	if memLimit > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(memLimit))
	}
	reset := resetHWM()
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() { // the live heap as each GC leaves it: the highest is the peak
		var most uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			most = max(most, liveHeap())
			select {
			case <-stop:
				peak <- most
				return
			case <-t.C:
			}
		}
	}()
	for b.Loop() {
		require.NoError(b, c.Once(ctx))
	}
	close(stop)
	livePeak := <-peak
	require.Zero(b, w.locks.Load(), "nothing to do, so no lock taken")
	rss, hwm, _ := procMemory()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MB-heap")
	b.ReportMetric(heapWorld, "MB-heap-world")
	b.ReportMetric((float64(livePeak)-float64(liveWorld))/(1<<20), "MB-ctl-live")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "MB-sys")
	if rssOK {
		b.ReportMetric(rssWorld, "MB-rss-world")
		b.ReportMetric(rss, "MB-rss")
		b.ReportMetric(hwm, "MB-hwm")
		b.ReportMetric(map[bool]float64{true: 1}[reset], "hwm-reset")
	}
	runtime.KeepAlive(w)
	runtime.KeepAlive(c)
}

// liveHeap is the heap the last GC found live, in bytes.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// procMemory reads the process's resident memory now (VmRSS) and at its peak (VmHWM), in
// MB, from /proc/self/status; ok is false where there is none.
func procMemory() (rss, hwm float64, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, false
	}
	var gotRSS, gotHWM bool
	for _, line := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		f := strings.Fields(v) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss, gotRSS = kb/1024, true
		case "VmHWM":
			hwm, gotHWM = kb/1024, true
		}
	}
	return rss, hwm, gotRSS && gotHWM
}

// resetHWM resets the process's peak resident memory (VmHWM) to what it is now, so the
// peak read later is that of what ran since (Linux 4.0 and later: proc(5), clear_refs).
func resetHWM() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}
