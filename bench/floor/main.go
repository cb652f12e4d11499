// Command floor is the yardstick for deck's deploy speed: it starts the same containers deck
// would (same image, published port, memory limit, cpu shares, stop timeout, env and labels
// of the same size) with nothing else around them: no planning, no lock, no records. Each
// host gets 4 containers at a time (deck's default host parallelism), hosts in parallel,
// through the Podman API, and every task is probed over HTTP until it answers 200. What deck
// spends beyond this is deck's own cost.
//
//	floor -n 30 -image localhost/deck/hello-hello:TAG   # prints ms until the last task answered
//	floor -cleanup                                      # removes the floor's containers
//	floor -healthy deck.app=hello                       # counts containers with that label answering 200
//	floor -healthy deck.app=hello -mux bin/deck          # the same over deck's shared ssh connections
//
// Hosts come from the hosts file deck reads (DECK_HOSTS_FILE) and are dialled with deck's
// own Dialer, so connecting (ssh included) costs what it costs deck; with -mux DECK, over
// the ssh connections deck ssh-mux shares, as deck's own commands do.
//
// -healthy is also the floor of a no-op deploy and of deck status: each lists the app's
// containers on every host and probes every running task once, all at once, which is what
// -healthy does and nothing more.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/deckhq/deck/providers/podman"
)

// floorLabel marks the floor's containers, so -cleanup removes them and nothing else.
const (
	floorLabel = "bench"
	floorValue = "floor"
)

type config struct {
	hostsFile   string
	tasks       int
	image       string
	perHost     int
	memoryMiB   int64
	cpuShares   int64
	port        int
	healthPath  string
	pollEvery   time.Duration
	timeout     time.Duration
	cleanup     bool
	healthy     string
	verbose     bool
	mux         string
	programTime time.Time
}

func main() {
	cfg := config{programTime: time.Now()}
	flag.StringVar(&cfg.hostsFile, "hosts", os.Getenv("DECK_HOSTS_FILE"), "hosts file (deck's YAML host list)")
	flag.IntVar(&cfg.tasks, "n", 30, "tasks, spread evenly over the hosts")
	flag.StringVar(&cfg.image, "image", "", "image to run (already on every host)")
	flag.IntVar(&cfg.perHost, "per-host", 4, "containers created at once on one host (deck's default)")
	flag.Int64Var(&cfg.memoryMiB, "memory", 32, "memory limit, MiB")
	flag.Int64Var(&cfg.cpuShares, "cpu", 64, "cpu shares")
	flag.IntVar(&cfg.port, "port", 8080, "container port to publish (on a random host port)")
	flag.StringVar(&cfg.healthPath, "path", "/healthz", "HTTP path probed until it answers 200")
	flag.DurationVar(&cfg.pollEvery, "poll", 10*time.Millisecond, "probe interval (no backoff)")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "give up after this long")
	flag.BoolVar(&cfg.cleanup, "cleanup", false, "remove the floor's containers (label bench=floor) and exit")
	flag.StringVar(&cfg.healthy, "healthy", "", "count running containers with this label (k=v) that answer 200, print the count and exit")
	flag.BoolVar(&cfg.verbose, "v", false, "print where the time went on stderr")
	flag.StringVar(&cfg.mux, "mux", "", "the deck binary: share ssh connections through its ssh-mux, as deck does")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.hostsFile == "" {
		return fmt.Errorf("no hosts file: set DECK_HOSTS_FILE or -hosts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	d := podman.Dialer{}
	if cfg.mux != "" {
		d = podman.Dialer{Persist: time.Minute, MuxCommand: []string{cfg.mux, "ssh-mux"}}
	}
	hosts, err := connect(ctx, cfg.hostsFile, d)
	if err != nil {
		return err
	}
	defer closeAll(hosts)
	connected := time.Since(cfg.programTime)
	switch {
	case cfg.cleanup:
		return removeAll(ctx, hosts)
	case cfg.healthy != "":
		n, total, err := countHealthy(ctx, hosts, cfg)
		if err != nil {
			return err
		}
		fmt.Printf("%d %d\n", n, total)
		return nil
	}
	if cfg.image == "" || cfg.tasks < 1 {
		return fmt.Errorf("need -image and -n >= 1")
	}
	started, err := deploy(ctx, hosts, cfg)
	if err != nil {
		return err
	}
	elapsed := time.Since(cfg.programTime)
	if cfg.verbose {
		fmt.Fprintf(os.Stderr, "floor: %d tasks on %d hosts: connected %d ms, last started %d ms, last healthy %d ms, %d port retries\n",
			cfg.tasks, len(hosts), connected.Milliseconds(), started.Sub(cfg.programTime).Milliseconds(), elapsed.Milliseconds(),
			portsRetried.Load())
	}
	fmt.Println(elapsed.Milliseconds())
	return nil
}
