// Command lines is deck's test app for deck logs: it writes numbered lines until SIGTERM,
// "line N" on stdout, every 7th on stderr instead, and a bare "tick" before every 5th, so
// the same text comes several times within one second (what deck must not lose or repeat
// when it reads a log again from a second: Podman 4.3 stamps lines to the second).
//
// EVERY (default 20ms) is the time between lines; START (default 1) the first number.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	every := 20 * time.Millisecond
	if v, err := time.ParseDuration(os.Getenv("EVERY")); err == nil && v > 0 {
		every = v
	}
	n := 1
	if v, err := strconv.Atoi(os.Getenv("START")); err == nil {
		n = v
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for ; ; n++ {
		if n%5 == 0 {
			fmt.Println("tick")
		}
		out := os.Stdout
		if n%7 == 0 {
			out = os.Stderr
		}
		fmt.Fprintf(out, "line %d\n", n)
		select {
		case <-stop:
			fmt.Println("bye")
			return
		case <-tick.C:
		}
	}
}
