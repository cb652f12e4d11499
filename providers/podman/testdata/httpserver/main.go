// Command httpserver is the test image of deck's Podman provider tests: a static HTTP
// server for a FROM scratch image (no shell, no curl), so it also carries the client side
// of its own healthcheck.
//
//	httpserver [-listen :8080] [-ignore-term]   serve; GET / answers the env vars in $SHOW
//	httpserver -check URL                       exit 0 when URL answers 200, else 1
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve on")
	check := flag.String("check", "", "probe this URL and exit 0 on HTTP 200")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM, to test stop timeouts")
	flag.Parse()

	if *check != "" {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(*check)
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		os.Exit(0)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sig {
			if s == syscall.SIGTERM && *ignoreTerm {
				continue
			}
			os.Exit(0)
		}
	}()

	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		// SHOW names the variables to echo (KEY=VALUE per line), so tests can see env and secrets.
		for _, k := range strings.Split(os.Getenv("SHOW"), ",") {
			if k != "" {
				fmt.Fprintf(w, "%s=%s\n", k, os.Getenv(k))
			}
		}
	})
	if err := http.ListenAndServe(*listen, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
