// Command task is the second binary of the Podman provider tests' image: a task that does
// one short job and exits, so tests can read what a finished container leaves behind.
//
//	task [-lines N] [-sleep D] [-cat FILE] [-alloc MiB] [-exit CODE]
//
// It prints N numbered lines ("line 1" ...; every third goes to stderr, as "line 3 err"),
// then sleeps D and prints "slept", then prints FILE, then allocates and touches MiB of
// memory (to be OOM-killed under a lower limit), then exits with CODE.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	lines := flag.Int("lines", 0, "print this many numbered lines")
	cat := flag.String("cat", "", "print this file")
	alloc := flag.Int("alloc", 0, "allocate and touch this many MiB")
	code := flag.Int("exit", 0, "exit with this code")
	sleep := flag.Duration("sleep", 0, "sleep this long after the lines")
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
	}
	os.Exit(*code)
}
