// Package load is an HTTP load generator for deck's end-to-end tests, demo and benchmarks:
// it sends GET requests at a fixed rate (or as fast as its connections allow), counts what
// fails and why, and measures latency, so that a test can say "no request failed during
// the rollout and none took longer than 2s".
//
// It behaves like a well-behaved real client: a fixed pool of keep-alive connections
// (net/http's Transport), and Go's own transparent retry: when a request fails on a reused
// idle connection that the server had closed before any of the response came back, the
// Transport sends it again on a new connection (it does this for idempotent requests,
// which every GET here is). Such a request counts once, as whatever its retry gave. Any
// other transport error, and any status outside 2xx, is a failure; redirects are not
// followed.
package load

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Options says what to load and how hard.
type Options struct {
	URL  string
	Host string // the Host header, when not the URL's host (a load balancer's route)
	// Rate is the offered load in requests per second, held whatever the server does
	// (open loop): requests that find every connection busy wait in the Transport, and
	// that wait counts in their latency. 0 sends as fast as Conns connections allow.
	Rate  int
	Conns int // keep-alive connections; 16 when 0
	// NewConnections opens a connection for every request and closes it after, as curl in
	// a loop, ab without -k or a proxy that does not pool do (Conns then bounds how many
	// are open at once). Such a client never has a request retried by the Transport.
	NewConnections bool
	Timeout        time.Duration // per request, including the wait for a connection; 10s when 0
	// Path, when set, gives request i's path (and query), resolved against URL:
	// for instance a slow request now and then.
	Path func(i int) string
}

// Run is a load that is running. Its methods are safe to call from any goroutine.
type Run struct {
	o      Options
	base   *url.URL
	client *http.Client
	tr     *http.Transport
	stop   context.CancelFunc
	wg     sync.WaitGroup // the senders, the requests in flight and the window's watcher

	mu    sync.Mutex
	stats stats
}

// Start begins sending requests to o.URL, and keeps on until Stop or until ctx ends.
// A URL that does not parse makes every request fail, as a test should see.
func Start(ctx context.Context, o Options) *Run {
	if o.Conns <= 0 {
		o.Conns = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	tr := &http.Transport{
		Proxy:               nil, // the load goes where it is told, whatever the environment says
		DialContext:         (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        o.Conns,
		MaxIdleConnsPerHost: o.Conns,
		MaxConnsPerHost:     o.Conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		DisableKeepAlives:   o.NewConnections,
	}
	r := &Run{o: o, tr: tr, client: &http.Client{
		Transport:     tr,
		Timeout:       o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	r.base, _ = url.Parse(o.URL)
	r.stats.start = time.Now()
	r.stats.errors = map[string]int{}
	r.stats.bodies = map[string]int{}
	sending, stop := context.WithCancel(ctx)
	r.stop = stop
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		<-sending.Done()
		r.mu.Lock()
		r.stats.endWindow(time.Now())
		r.mu.Unlock()
	}()
	if o.Rate > 0 {
		r.wg.Add(1)
		go r.openLoop(sending)
	} else {
		for range o.Conns {
			r.wg.Add(1)
			go r.closedLoop(sending)
		}
	}
	return r
}

// Stop stops sending, waits for the requests in flight (each ends within Timeout), and
// returns the result: then Sent == OK + Failed.
func (r *Run) Stop() Result {
	r.stop()
	r.wg.Wait()
	r.tr.CloseIdleConnections()
	return r.Snapshot()
}

// Snapshot returns the result so far, while the load runs (or after Stop).
func (r *Run) Snapshot() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats.result(time.Now())
}

// openLoop launches request i at start + i/Rate, each on its own goroutine, so that a slow
// server does not slow the sending. After a pause (a busy machine) it catches up at once.
func (r *Run) openLoop(ctx context.Context) {
	defer r.wg.Done()
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		due := int(time.Since(start).Seconds()*float64(r.o.Rate)) + 1
		for ; i < due; i++ {
			r.wg.Add(1)
			go func(i int) {
				defer r.wg.Done()
				r.do(i)
			}(r.sent())
		}
		timer.Reset(time.Until(start.Add(time.Duration(float64(i) * float64(time.Second) / float64(r.o.Rate)))))
	}
}

// closedLoop sends one request after the other, as fast as the server answers.
func (r *Run) closedLoop(ctx context.Context) {
	defer r.wg.Done()
	for ctx.Err() == nil {
		r.do(r.sent())
	}
}

// sent counts a request as sent and returns its number.
func (r *Run) sent() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.sent++
	return r.stats.sent - 1
}

// do sends request i and records its outcome. The request does not end with the run's
// context: Stop lets requests in flight finish, so every request sent is counted.
func (r *Run) do(i int) {
	target, path := r.target(i)
	began := time.Now()
	status, firstLine, err := r.get(target)
	o := outcome{path: path, start: began, latency: time.Since(began), status: status, err: err, body: firstLine}
	r.mu.Lock()
	r.stats.record(o)
	r.mu.Unlock()
}

func (r *Run) target(i int) (target, path string) {
	if r.o.Path == nil || r.base == nil {
		return r.o.URL, ""
	}
	path = r.o.Path(i)
	ref, err := url.Parse(path)
	if err != nil {
		return r.o.URL, path
	}
	return r.base.ResolveReference(ref).String(), path
}

// get sends one GET and returns its status and the first line of its body. The body is
// read to the end (up to a limit) so that the connection can be used again.
func (r *Run) get(target string) (status int, firstLine string, err error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return 0, "", err
	}
	if r.o.Host != "" {
		req.Host = r.o.Host
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	firstLine, err = readFirstLine(resp.Body)
	return resp.StatusCode, firstLine, err
}

// maxBody bounds how much of a body is read; a longer one is cut off, and its connection
// closed rather than reused.
const maxBody = 1 << 20

func readFirstLine(body io.Reader) (string, error) {
	buf := make([]byte, 512)
	n, err := io.ReadFull(body, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return firstLine(buf[:n]), nil
	}
	if err != nil {
		return "", err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(body, maxBody))
	return firstLine(buf[:n]), err
}
