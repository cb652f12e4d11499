package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/specgen"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

// stopTimeout is deck's default stop timeout, which deck sends with every container.
const stopTimeout = 10 * time.Second

// deploy starts cfg.tasks tasks, task i on host i mod len(hosts), and waits until every one
// answers 200. It returns when the last container was started.
func deploy(ctx context.Context, hosts []*host, cfg config) (time.Time, error) {
	client := &http.Client{
		Timeout: time.Second,
		// Every probe is to a new port; keeping connections would only hold sockets.
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	var probes sync.WaitGroup
	probeErrs := make(chan error, cfg.tasks)
	var mu sync.Mutex
	var lastStart time.Time
	err := eachHost(hosts, func(hi int, h *host) error {
		return startHostTasks(ctx, h, cfg, tasksOf(hi, len(hosts), cfg.tasks), func(port int) {
			mu.Lock()
			lastStart = time.Now()
			mu.Unlock()
			probes.Go(func() {
				if err := waitHealthy(ctx, client, h.spec.Address, port, cfg); err != nil {
					probeErrs <- fmt.Errorf("%s: %w", h.spec.Name, err)
				}
			})
		})
	})
	probes.Wait()
	close(probeErrs)
	if err != nil {
		return lastStart, err
	}
	return lastStart, <-probeErrs
}

// tasksOf returns the task numbers placed on host hi of n: an even spread.
func tasksOf(hi, n, tasks int) []int {
	var out []int
	for t := hi; t < tasks; t += n {
		out = append(out, t)
	}
	return out
}

// startHostTasks creates and starts the tasks on one host, cfg.perHost at a time, and calls
// started with each task's host port as soon as it has one.
func startHostTasks(ctx context.Context, h *host, cfg config, tasks []int, started func(port int)) error {
	slots := make(chan struct{}, cfg.perHost)
	errs := make(chan error, len(tasks))
	var wg sync.WaitGroup
	for _, t := range tasks {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			port, err := startTask(ctx, h, cfg, t)
			if err != nil {
				errs <- err
				return
			}
			started(port)
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// portRetries bounds the attempts of one task whose random host port was taken.
const portRetries = 3

// portsRetried counts those retries, for -v.
var portsRetried atomic.Int64

// startTask is the floor's whole work for one task: create, start, and inspect for the
// host port Podman picked (deck's provider makes the same three calls). Podman 4.3 picks
// a random host port at create time without reserving it, so two containers created at
// once on a host can get the same one and the later fails to start ("address already in
// use"). Any deployer has to cope with that, so the floor does too, the cheapest way:
// remove the container and create it again.
func startTask(ctx context.Context, h *host, cfg config, t int) (int, error) {
	for attempt := 1; ; attempt++ {
		port, err := createAndStart(ctx, h, cfg, t)
		if err == nil || attempt == portRetries || !strings.Contains(err.Error(), "address already in use") {
			return port, err
		}
		portsRetried.Add(1)
	}
}

func createAndStart(ctx context.Context, h *host, cfg config, t int) (int, error) {
	cctx := h.call(ctx)
	s := taskSpec(cfg, h.spec.Name, t)
	created, err := containers.CreateWithSpec(cctx, s, nil)
	if err != nil {
		return 0, fmt.Errorf("creating %s: %w", s.Name, err)
	}
	if err := containers.Start(cctx, created.ID, nil); err != nil {
		_, _ = containers.Remove(cctx, created.ID, new(containers.RemoveOptions).WithForce(true))
		return 0, fmt.Errorf("starting %s: %w", s.Name, err)
	}
	data, err := containers.Inspect(cctx, created.ID, nil)
	if err != nil {
		return 0, fmt.Errorf("inspecting %s: %w", s.Name, err)
	}
	if data.NetworkSettings != nil {
		for _, b := range data.NetworkSettings.Ports[strconv.Itoa(cfg.port)+"/tcp"] {
			if port, err := strconv.Atoi(b.HostPort); err == nil && port > 0 {
				return port, nil
			}
		}
	}
	return 0, fmt.Errorf("%s: no host port bound to %d", s.Name, cfg.port)
}

// taskSpec mirrors what deck's provider sends (providers/podman/createspec.go) for a task
// of examples/hello: image, name, env, labels, one published port on a random host port,
// cpu shares, a memory limit and the stop timeout. Runtime and rlimits come from the
// host's containers.conf, as for deck.
func taskSpec(cfg config, hostName string, t int) *specgen.SpecGenerator {
	id := fmt.Sprintf("t%04d", t)
	s := specgen.NewSpecGenerator(cfg.image, false)
	s.Name = "bench-floor-" + id
	s.Env = map[string]string{
		"GREETING": "hello", "DECK_APP": "floor", "DECK_ENV": "bench", "DECK_SERVICE": "hello",
		"DECK_REVISION": "floor", "DECK_TASK_ID": id, "DECK_HOST": hostName,
	}
	s.Labels = taskLabels(cfg, id)
	s.PortMappings = []nettypes.PortMapping{{ContainerPort: uint16(cfg.port), Protocol: "tcp"}}
	shares, limit := uint64(cfg.cpuShares), cfg.memoryMiB*1024*1024
	s.ResourceLimits = &rspec.LinuxResources{
		CPU:    &rspec.LinuxCPU{Shares: &shares},
		Memory: &rspec.LinuxMemory{Limit: &limit},
	}
	secs := uint(stopTimeout / time.Second)
	s.StopTimeout = &secs
	s.LogConfiguration = &specgen.LogConfig{Size: manifest.DefaultLogMaxSize}
	return s
}

// taskLabels are deck's labels for such a task (deck keeps the task definition and desired
// state in them, so they are a few hundred bytes), renamed from deck.* to floor.* so deck
// never takes the floor's containers for its own; plus the floor's own marker.
func taskLabels(cfg config, id string) map[string]string {
	td := manifest.TaskDef{
		Image: cfg.image, Port: cfg.port, CPU: cfg.cpuShares, Memory: cfg.memoryMiB,
		StopTimeout: stopTimeout, Variables: map[string]string{"GREETING": "hello"},
		Healthcheck: &manifest.Healthcheck{Path: cfg.healthPath, Interval: time.Second, Timeout: 2 * time.Second, Retries: 2},
	}
	desired := providers.DesiredState{Type: "Load Balanced Web Service"}
	deck := providers.EncodeTaskLabels(providers.TaskMeta{
		App: "floor", Env: "bench", Service: "hello", Revision: "floor", TaskID: id,
		Port: cfg.port, Epoch: 1, Spec: &td, Desired: &desired,
	}, nil)
	out := make(map[string]string, len(deck)+1)
	for k, v := range deck {
		out["floor."+strings.TrimPrefix(k, "deck.")] = v
	}
	out[floorLabel] = floorValue
	return out
}

// waitHealthy probes http://addr:port/path every cfg.pollEvery until it answers 200.
func waitHealthy(ctx context.Context, client *http.Client, addr string, port int, cfg config) error {
	url := fmt.Sprintf("http://%s:%d%s", addr, port, cfg.healthPath)
	tick := time.NewTicker(cfg.pollEvery)
	defer tick.Stop()
	for {
		if probe(ctx, client, url) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200: %w", url, ctx.Err())
		case <-tick.C:
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
