// Command worker is deck's example worker: no port, it works until SIGTERM and then stops
// cleanly after finishing the job in hand. As a Scheduled Job or a standalone task it does
// a few jobs and exits:
//
//	worker [-jobs N] [-exit CODE]
//
// -jobs N stops after N jobs (0: run until SIGTERM); -exit CODE is the exit code then.
// INTERVAL (default 2s) is the time a job takes.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	jobs := flag.Int("jobs", 0, "stop after this many jobs (0: run until SIGTERM)")
	code := flag.Int("exit", 0, "the exit code once -jobs are done")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	every := 2 * time.Second
	if v, err := time.ParseDuration(os.Getenv("INTERVAL")); err == nil && v > 0 {
		every = v
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			log.Printf("task %s: stopping after %d jobs", os.Getenv("DECK_TASK_ID"), n)
			return
		case <-tick.C:
			n++
			log.Printf("task %s: job %d done", os.Getenv("DECK_TASK_ID"), n)
			if n == *jobs {
				log.Printf("task %s: all %d jobs done, exiting with code %d", os.Getenv("DECK_TASK_ID"), n, *code)
				stop()
				os.Exit(*code)
			}
		}
	}
}
