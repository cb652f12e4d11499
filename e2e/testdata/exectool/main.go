// Command exectool is what the e2e tests of deck exec run inside a FROM scratch image,
// which has no shell: a few small programs in one static binary.
//
//	exectool outerr OUT ERR CODE  writes OUT to stdout, ERR to stderr, exits CODE
//	exectool cat                  copies stdin to stdout
//	exectool isatty               prints tty=true or tty=false (is stdin a terminal)
//	exectool tty                  prints "ready", reads a line, prints it with whether stdin is a
//	                              terminal and its size, then waits for the size to change,
//	                              prints the new one and exits 3
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/term"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: exectool outerr|cat|isatty|tty")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "outerr":
		fmt.Println(os.Args[2])
		fmt.Fprintln(os.Stderr, os.Args[3])
		code, _ := strconv.Atoi(os.Args[4])
		os.Exit(code)
	case "cat":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			os.Exit(1)
		}
	case "isatty":
		fmt.Printf("tty=%v\n", term.IsTerminal(0))
	case "tty":
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		fmt.Println("ready")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		w, h, _ := term.GetSize(0)
		fmt.Printf("got %q tty=%v size=%dx%d\n", line, term.IsTerminal(0), w, h)
		timeout := time.After(30 * time.Second)
		for {
			select {
			case <-winch:
				if nw, nh, _ := term.GetSize(0); nw != w || nh != h {
					fmt.Printf("resized to %dx%d\n", nw, nh)
					os.Exit(3)
				}
			case <-timeout:
				fmt.Println("no resize within 30s")
				os.Exit(99)
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "exectool: unknown program %q\n", os.Args[1])
		os.Exit(2)
	}
}
