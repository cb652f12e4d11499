// Command loadgen sends HTTP load with bench/load and prints what it saw: for the demo
// (live lines while a deploy runs) and for benchmarks (-json).
//
//	loadgen -url http://127.0.0.1:8080/ [-host H] [-rate 1000] [-conns 16]
//	        [-duration 10s | until SIGINT/SIGTERM] [-json] [-every 1s]
//
// It exits 0 whatever the requests did (failures are in its output), 2 on bad flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/deckhq/deck/bench/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	load     load.Options
	duration time.Duration
	every    time.Duration
	json     bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.load.URL, "url", "", "the URL to GET (required)")
	fs.StringVar(&o.load.Host, "host", "", "the Host header, when not the URL's host")
	fs.IntVar(&o.load.Rate, "rate", 1000, "requests per second, held however the server answers; 0 = as fast as the connections allow")
	fs.IntVar(&o.load.Conns, "conns", 16, "keep-alive connections")
	fs.BoolVar(&o.load.NewConnections, "new-conns", false, "a new connection for every request (as curl in a loop or ab without -k); -conns bounds how many are open")
	fs.DurationVar(&o.load.Timeout, "timeout", 10*time.Second, "per request, including the wait for a connection")
	fs.DurationVar(&o.duration, "duration", 0, "how long to send; 0 = until SIGINT or SIGTERM")
	fs.DurationVar(&o.every, "every", 0, "print a progress line to stderr this often; 0 = never")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON (durations in nanoseconds)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.load.URL == "":
		return o, errors.New("-url is required")
	case o.load.Rate < 0, o.load.Conns < 1, o.duration < 0, o.every < 0:
		return o, errors.New("-rate, -duration and -every must not be negative, -conns must be at least 1")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "loadgen:", err)
		}
		return 2
	}
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	r := load.Start(ctx, o.load)
	if o.every > 0 {
		progress(ctx, r, o.every, stderr)
	}
	<-ctx.Done()
	res := r.Stop()
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return 0
	}
	fmt.Fprintln(stdout, res)
	for what, n := range res.Errors {
		fmt.Fprintf(stdout, "  %d x %s\n", n, what)
	}
	return 0
}

// progress prints, every interval until ctx ends, the last interval's rate and failures
// and the totals so far:
// "3s: 1001 req/s, 0 failed in the last 1s; 3004 requests, 0 failed, 1001 req/s, p50 ...".
func progress(ctx context.Context, r *load.Run, every time.Duration, w io.Writer) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last load.Result
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := r.Snapshot()
		done := now.OK + now.Failed - last.OK - last.Failed
		secs := (now.Duration - last.Duration).Seconds()
		fmt.Fprintf(w, "%s: %.0f req/s, %d failed in the last %s; %s\n", now.Duration.Round(time.Second),
			float64(done)/secs, now.Failed-last.Failed, every, now)
		last = now
	}
}
