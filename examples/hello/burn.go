package main

import (
	"net/http"
	"strconv"
	"time"
)

// maxBurn bounds /burn?ms=...
const maxBurn = 10 * time.Second

// burn keeps a core busy for ms milliseconds (at most 10s), then answers like /: CPU load
// on demand, to watch a service autoscale on cpu_percentage (a load generator asking for
// /burn?ms=50 at 20 requests a second keeps one core busy). A client that goes away ends
// the work.
func (c config) burn(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 {
		http.Error(w, "want /burn?ms=50", http.StatusBadRequest)
		return
	}
	end := time.Now().Add(min(time.Duration(ms)*time.Millisecond, maxBurn))
	done := r.Context().Done()
	for n := 0; time.Now().Before(end); n++ {
		if n%1024 == 0 {
			select {
			case <-done:
				return
			default:
			}
		}
	}
	c.hello(w, r)
}
