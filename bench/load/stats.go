package load

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Bounds on what a run keeps, so that a long run's memory stays flat.
const (
	maxKeys    = 64 // distinct ByBody lines, and distinct Errors kinds
	maxSlowest = 10
	maxSamples = 10
	maxKeyLen  = 120
	otherKey   = "(other)"
)

// outcome is one request's end.
type outcome struct {
	path    string
	start   time.Time
	latency time.Duration
	status  int
	err     error
	body    string // the body's first line
}

func (o outcome) ok() bool { return o.err == nil && o.status >= 200 && o.status < 300 }

// describe says what happened: "status 502", or the transport error's kind.
func (o outcome) describe() string {
	if o.err != nil {
		return errorKind(o.err)
	}
	return "status " + strconv.Itoa(o.status)
}

// stats accumulates outcomes; its owner holds a lock around every call.
type stats struct {
	start     time.Time
	windowEnd time.Time // when sending stopped; zero while it goes on
	windowN   int       // responses that had arrived by then
	sent      int
	ok        int
	failed    int
	errors    map[string]int
	bodies    map[string]int
	hist      hist
	slowest   []Slow // slowest first
	samples   []string
}

func (s *stats) endWindow(now time.Time) {
	if s.windowEnd.IsZero() {
		s.windowEnd, s.windowN = now, s.ok+s.failed
	}
}

func (s *stats) record(o outcome) {
	s.hist.record(o.latency)
	if o.ok() {
		s.ok++
		count(s.bodies, o.body)
	} else {
		s.failed++
		what := o.describe()
		count(s.errors, what)
		if len(s.samples) < maxSamples {
			s.samples = append(s.samples, o.start.Format("15:04:05.000")+" GET "+cmp.Or(o.path, "/")+": "+what)
		}
	}
	s.keepIfSlow(o)
}

// count adds one to m[key], or to m["(other)"] once m has maxKeys keys.
func count(m map[string]int, key string) {
	if _, ok := m[key]; !ok && len(m) >= maxKeys {
		key = otherKey
	}
	m[key]++
}

func (s *stats) keepIfSlow(o outcome) {
	if len(s.slowest) == maxSlowest && o.latency <= s.slowest[maxSlowest-1].Latency {
		return
	}
	slow := Slow{Start: o.start, Latency: o.latency, Path: o.path, Outcome: o.describe()}
	i, _ := slices.BinarySearchFunc(s.slowest, o.latency, func(x Slow, d time.Duration) int { return cmp.Compare(d, x.Latency) })
	s.slowest = slices.Insert(s.slowest, i, slow)
	if len(s.slowest) > maxSlowest {
		s.slowest = s.slowest[:maxSlowest]
	}
}

func (s *stats) result(now time.Time) Result {
	end, n := now, s.ok+s.failed
	if !s.windowEnd.IsZero() {
		end, n = s.windowEnd, s.windowN
	}
	r := Result{
		Sent: s.sent, OK: s.ok, Failed: s.failed,
		Errors: clone(s.errors), ByBody: clone(s.bodies),
		Duration: end.Sub(s.start),
		P50:      s.hist.quantile(0.50), P90: s.hist.quantile(0.90), P99: s.hist.quantile(0.99), Max: s.hist.max,
		Slowest:       slices.Clone(s.slowest),
		FailedSamples: slices.Clone(s.samples),
	}
	if r.Duration > 0 {
		r.Rate = float64(n) / r.Duration.Seconds()
	}
	return r
}

func clone(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// firstLine is the body's first line, trimmed and cut to maxKeyLen bytes (on a rune
// boundary).
func firstLine(body []byte) string {
	line, _, _ := strings.Cut(string(body), "\n")
	line = strings.TrimSpace(line)
	if len(line) > maxKeyLen {
		line = line[:maxKeyLen]
		for !utf8.ValidString(line) {
			line = line[:len(line)-1]
		}
	}
	return line
}

// addr matches the addresses and ports in error messages, which would otherwise make every
// connection's error a kind of its own.
var addr = regexp.MustCompile(hostPort + `(->` + hostPort + `)?`)

const hostPort = `(\[[0-9a-fA-F:.]+\]|\d+\.\d+\.\d+\.\d+)(:\d+)?`

// errorKind names a transport error's kind for grouping: the common ones by name, the
// rest by their message without the request's URL and without addresses.
func errorKind(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := addr.ReplaceAllString(err.Error(), "ADDR")
	if len(msg) > maxKeyLen {
		msg = msg[:maxKeyLen]
	}
	return msg
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
