package load

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Result is what a load saw, so far or in all.
type Result struct {
	Sent   int `json:"sent"`
	OK     int `json:"ok"`
	Failed int `json:"failed"`
	// Errors counts failures by kind: "status 502", "connection reset by peer", "EOF",
	// "timeout", ... (addresses and ports left out, so that like errors group).
	Errors map[string]int `json:"errors"`
	// Duration is how long requests were sent (start to Stop), and Rate the responses
	// (OK + Failed) that arrived in that time, per second.
	Duration time.Duration `json:"duration_ns"`
	Rate     float64       `json:"rate"`
	// Latencies of all responses, failures included, from the moment the request was
	// handed to the Transport (any wait for a busy connection counts) to the end of its
	// body; within 1%.
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
	// ByBody counts the 2xx responses by the first line of their body (cut to 120
	// bytes): the example app answers "hello from task T on host H (service S, revision R)",
	// so this says which tasks and revisions answered. After 64 distinct lines the rest
	// count under "(other)".
	ByBody map[string]int `json:"by_body"`
	// Slowest are the slowest requests, slowest first, to bound latency during a rollout
	// and to find when the slow ones happened.
	Slowest []Slow `json:"slowest"`
	// FailedSamples are the first failures, in the order they came back, with when each
	// was sent: "15:04:05.000 GET /slow?d=2s: status 502".
	FailedSamples []string `json:"failed_samples"`
}

// Slow is one slow request.
type Slow struct {
	Start   time.Time     `json:"start"`
	Latency time.Duration `json:"latency_ns"`
	Path    string        `json:"path,omitempty"` // when Options.Path set it
	Outcome string        `json:"outcome"`        // "status 200", "timeout", ...
}

// String is the result in one line:
// "12034 requests, 0 failed, 1002 req/s, p50 1.1ms p99 4.2ms max 9ms".
func (r Result) String() string {
	return fmt.Sprintf("%d requests, %d failed, %.0f req/s, p50 %s p99 %s max %s",
		r.Sent, r.Failed, r.Rate, short(r.P50), short(r.P99), short(r.Max))
}

// short writes d with two significant digits (three from 100): 850µs, 1.1ms, 42ms, 2.5s.
func short(d time.Duration) string {
	units := []struct {
		name string
		size time.Duration
	}{{"s", time.Second}, {"ms", time.Millisecond}, {"µs", time.Microsecond}}
	for _, u := range units {
		if d >= u.size {
			v := float64(d) / float64(u.size)
			digits := 0
			if v < 10 {
				digits = 1
			}
			s := strconv.FormatFloat(v, 'f', digits, 64)
			return strings.TrimSuffix(s, ".0") + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}
