package load

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIndexAndUpperAgree(t *testing.T) {
	// Every value lies in its bucket: above the previous bucket's top, at most its own.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 1e6, 1e9, 1e12, 1<<63 - 1} {
		i := index(v)
		require.Less(t, i, buckets, "value %d", v)
		assert.LessOrEqual(t, v, upper(i), "value %d", v)
		if i > 0 {
			assert.Greater(t, v, upper(i-1), "value %d", v)
		}
	}
	// Buckets are contiguous and increasing.
	for i := 1; i < buckets; i++ {
		require.Equal(t, upper(i-1)+1, lowest(i), "bucket %d", i)
	}
}

// lowest is the smallest value in bucket i: one above the previous bucket's top.
func lowest(i int) uint64 {
	g := i >> subBits
	if g == 0 {
		return uint64(i)
	}
	return uint64(i-g<<subBits+1<<subBits) << (g - 1)
}

func TestQuantilesWithinPrecision(t *testing.T) {
	var h hist
	assert.Zero(t, h.quantile(0.99), "empty")
	r := rand.New(rand.NewPCG(1, 2))
	var all []time.Duration
	for range 100_000 {
		// Log-uniform from 1µs to 10s.
		d := time.Duration(float64(time.Microsecond) * math.Pow(10, 7*r.Float64()))
		all = append(all, d)
		h.record(d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := all[int(q*float64(len(all)))-1]
		got := h.quantile(q)
		assert.GreaterOrEqual(t, got, exact, "q %v", q)
		assert.InDelta(t, float64(exact), float64(got), float64(exact)/100, "q %v", q)
	}
	assert.Equal(t, all[len(all)-1], h.max)
	assert.Equal(t, h.max, h.quantile(1))
}
