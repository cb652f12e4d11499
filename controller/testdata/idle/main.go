// Command idle is the image of the controller's real-host watch tests: a process that
// does nothing until it is stopped (SIGTERM or SIGINT: exit 0) or killed, for a FROM
// scratch image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
