package fake

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The interner shares equal labels while something holds them, and lets go of those no
// record holds any more: a simulation writing ever new records does not grow with them.
func TestInternerSharesAndLetsGo(t *testing.T) {
	in := newInterner()
	a := in.record(map[string]string{"k": "v"})
	b := in.record(map[string]string{"k": "v"})
	assert.Same(t, a, b, "equal labels are shared")
	for i := range 100 {
		in.record(map[string]string{"n": strconv.Itoa(i)}) // held by nothing
	}
	size := func() int {
		in.mu.Lock()
		defer in.mu.Unlock()
		return len(in.records.m)
	}
	require.Eventually(t, func() bool { runtime.GC(); return size() == 1 }, 5*time.Second, 10*time.Millisecond,
		"only the labels still held are kept")
	assert.Same(t, a, in.record(map[string]string{"k": "v"}))
	runtime.KeepAlive(a)
}
