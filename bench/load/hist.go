package load

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: every power of two is split into 2^subBits
// buckets, so a recorded value is known to within 1/128 (0.8%) from a nanosecond to
// hours, in a fixed 59 KB. That is the HDR histogram's idea with one significant
// binary digit setting; it is written here (a page of code) rather than taken from
// hdrhistogram-go so that bench/load adds nothing to the module that e2e tests import.
const subBits = 7

// buckets covers every non-negative int64: an exact group below 2^subBits, then one
// group per remaining power of two.
const buckets = (64 - subBits) << subBits

// hist is a log-bucketed latency histogram. It is not safe for concurrent use.
type hist struct {
	counts [buckets]uint64
	total  uint64
	max    time.Duration
}

// index returns the bucket of v (v >= 0). Values below 2^subBits have a bucket each;
// a value in [2^k, 2^(k+1)) falls in one of 2^subBits buckets of width 2^(k-subBits).
func index(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	k := bits.Len64(v) - 1
	shift := k - subBits
	return (shift+1)<<subBits + int(v>>shift) - 1<<subBits
}

// upper returns the highest value that falls in bucket i.
func upper(i int) uint64 {
	g := i >> subBits
	if g == 0 {
		return uint64(i)
	}
	shift := g - 1
	low := uint64(i-g<<subBits+1<<subBits) << shift
	return low + 1<<shift - 1
}

func (h *hist) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[index(uint64(d))]++
	h.total++
	h.max = max(h.max, d)
}

// quantile returns the value below or at which a fraction q of the recorded values lie,
// rounded up to its bucket's top (so never below the true value) but not above the
// largest value recorded. It returns 0 when nothing was recorded.
func (h *hist) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(upper(i)), h.max)
		}
	}
	return h.max
}
