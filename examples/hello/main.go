// Command hello is deck's example web service: / says which task answered, /healthz says
// it is healthy. It stops gracefully on SIGTERM, finishing the requests it has.
// Run with -check to probe /healthz from inside the container (a health check command for
// an image that has no curl).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
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

	// READY_AFTER makes /healthz answer 503 until that long after start ("never": always),
	// to stand for an app that is slow to become ready, or broken. CRASH=N makes the
	// process print why and exit with code N at start. Both are for trying deploys that fail.
	if code := os.Getenv("CRASH"); code != "" {
		n, _ := strconv.Atoi(code)
		log.Printf("starting hello")
		log.Printf("fatal: cannot start: CRASH=%s asked to exit", code)
		os.Exit(n)
	}
	started := time.Now()
	readyAfter, never := time.Duration(0), os.Getenv("READY_AFTER") == "never"
	if d, err := time.ParseDuration(os.Getenv("READY_AFTER")); err == nil {
		readyAfter = d
	}
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "hello"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "%s from task %s on host %s (service %s, revision %s)\n", greeting,
			os.Getenv("DECK_TASK_ID"), os.Getenv("DECK_HOST"), os.Getenv("DECK_SERVICE"), os.Getenv("DECK_REVISION"))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if never || time.Since(started) < readyAfter {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("listening on :%s", port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
