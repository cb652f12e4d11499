// Command worker is deck's example worker: no port, it works until SIGTERM and then stops
// cleanly after finishing the job in hand.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
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
		}
	}
}
