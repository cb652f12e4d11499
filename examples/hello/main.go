// Command hello is deck's example web service: / says which task answered, /healthz says
// it is healthy, /slow?d=2s answers like / after that long (at most a minute), /burn?ms=50
// answers like / after keeping a core busy that long (at most 10s). On SIGTERM
// it stops taking connections and exits once the requests in hand are answered, or after
// SHUTDOWN_TIMEOUT (30s), whichever comes first. SIGUSR1 makes /healthz answer 500 from
// then on, and a second SIGUSR1 healthy again: a task whose health check starts failing
// while it runs (podman kill --signal USR1).
// Run with -check to probe /healthz from inside the container (a health check command for
// an image that has no curl).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	check := flag.Bool("check", false, "probe /healthz on the local server and exit 0 when healthy")
	flag.Parse()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if *check {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://127.0.0.1:" + port + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		os.Exit(0)
	}

	// CRASH=N makes the process print why and exit with code N at start, for trying
	// deploys that fail. CRASH_LOG_ENV=NAME first prints that variable, as an app that
	// logs its settings when it dies would (a database URL, password and all).
	if code := os.Getenv("CRASH"); code != "" {
		n, _ := strconv.Atoi(code)
		log.Printf("starting hello")
		if name := os.Getenv("CRASH_LOG_ENV"); name != "" {
			log.Printf("config: %s=%s", name, os.Getenv(name))
		}
		log.Printf("fatal: cannot start: CRASH=%s asked to exit", code)
		os.Exit(n)
	}
	c, err := configFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("fatal: %v", err)
	}
	// CRASH_AFTER=3s makes the process serve, pass its health check, and exit with code 4
	// that long after it started: a revision whose tasks crash soon after they pass.
	if v := os.Getenv("CRASH_AFTER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			log.Fatalf("fatal: CRASH_AFTER=%q is not a duration such as 3s", v)
		}
		time.AfterFunc(d, func() {
			log.Printf("fatal: CRASH_AFTER=%s asked to exit", v)
			os.Exit(4)
		})
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			log.Printf("SIGUSR1: /healthz now answers %d", c.toggleSick())
		}
	}()
	log.Printf("listening on %s", ln.Addr())
	if err := serve(ctx, ln, c.handler(), c.shutdownTimeout); err != nil {
		log.Fatal(err)
	}
}

// configFromEnv reads the settings that stand for apps that misbehave:
//   - READY_AFTER=10s: /healthz answers 503 until that long after start ("never": always),
//     an app slow to become ready, or broken;
//   - HEALTH_STATUS=500: /healthz always answers that status, a revision whose health
//     check fails;
//   - SHUTDOWN_TIMEOUT=30s: how long requests in hand may take after SIGTERM (raise it
//     past 60s to let every /slow request finish).
func configFromEnv(env func(string) string) (config, error) {
	c := config{started: time.Now(), shutdownTimeout: 30 * time.Second, greeting: env("GREETING"),
		never: env("READY_AFTER") == "never", sick: new(atomic.Bool)}
	if c.greeting == "" {
		c.greeting = "hello"
	}
	if d, err := time.ParseDuration(env("READY_AFTER")); err == nil {
		c.readyAfter = d
	}
	if v := env("SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("SHUTDOWN_TIMEOUT=%q is not a duration such as 30s", v)
		}
		c.shutdownTimeout = d
	}
	if v := env("HEALTH_STATUS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 200 || n > 599 {
			return c, fmt.Errorf("HEALTH_STATUS=%q is not an HTTP status from 200 to 599", v)
		}
		c.healthStatus = n
	}
	c.task = fmt.Sprintf("task %s on host %s (service %s, revision %s)",
		env("DECK_TASK_ID"), env("DECK_HOST"), env("DECK_SERVICE"), env("DECK_REVISION"))
	return c, nil
}

// serve answers on ln until ctx ends, then stops taking connections and returns once the
// requests in hand are answered or the timeout has passed. (ListenAndServe returns as soon
// as Shutdown begins: returning from main then would cut those requests.)
func serve(ctx context.Context, ln net.Listener, h http.Handler, timeout time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		done <- srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := <-done; err != nil {
		return fmt.Errorf("requests still in hand after %s: %w", timeout, err)
	}
	return nil
}
