// Command task is the second binary of the Podman provider tests' image: a task that does
// one short job and exits, so tests can read what a finished container leaves behind.
//
//	task [-lines N] [-sleep D] [-cat FILE] [-alloc MiB] [-burn D] [-hold D] [-exit CODE]
//
// It prints N numbered lines ("line 1" ...; every third goes to stderr, as "line 3 err"),
// then sleeps D and prints "slept", then prints FILE, then allocates and touches MiB of
// memory (to be OOM-killed under a lower limit), then keeps one core busy for D (-burn),
// then idles for D holding what it allocated (-hold), then exits with CODE.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// held keeps what -alloc allocated reachable until the task exits.
var held [][]byte

func main() {
	lines := flag.Int("lines", 0, "print this many numbered lines")
	cat := flag.String("cat", "", "print this file")
	alloc := flag.Int("alloc", 0, "allocate and touch this many MiB")
	code := flag.Int("exit", 0, "exit with this code")
	sleep := flag.Duration("sleep", 0, "sleep this long after the lines")
	burn := flag.Duration("burn", 0, "keep one core busy this long")
	hold := flag.Duration("hold", 0, "then idle this long, holding what -alloc allocated")
	flag.Parse()

	for i := 1; i <= *lines; i++ {
		if i%3 == 0 {
			fmt.Fprintf(os.Stderr, "line %d err\n", i)
		} else {
			fmt.Printf("line %d\n", i)
		}
	}
	if *sleep > 0 {
		time.Sleep(*sleep)
		fmt.Println("slept")
	}
	if *cat != "" {
		data, err := os.ReadFile(*cat)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(data)
	}
	if *alloc > 0 {
		var keep [][]byte
		for i := 0; i < *alloc; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = 1 // touch every page, so it is really resident
			}
			keep = append(keep, b)
		}
		fmt.Printf("allocated %d MiB\n", len(keep))
		time.Sleep(time.Second) // let a limit that is late to act still catch it
		// Keep it resident through -burn and -hold.
		held = keep
	}
	spin(*burn)
	time.Sleep(*hold)
	os.Exit(*code)
}

// spin keeps one core busy for d.
func spin(d time.Duration) {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for range 100000 {
			n++
		}
	}
	if n < 0 {
		fmt.Println(n) // never: keeps the loop from being optimised away
	}
}
