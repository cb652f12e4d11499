// Package failpoint names the boundaries of a deploy where a crash hurts, so tests can
// kill deck exactly there instead of at random moments. It is compiled into every binary
// and inert unless DECK_FAILPOINT is set: DECK_FAILPOINT=after-create kills the process
// (SIGKILL, as a cancelled CI runner does) the first time a deploy passes that point;
// after-create:3 the third time.
package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Env is the variable that arms a failpoint.
const Env = "DECK_FAILPOINT"

// The named points, in the order a deploy passes them.
const (
	AfterLock       = "after-lock"       // the deploy lock is held, nothing written yet
	AfterImage      = "after-image"      // images and secrets reached the hosts
	AfterCreate     = "after-create"     // a task's container exists, not started
	AfterStart      = "after-start"      // it runs, not yet seen healthy
	AfterHealthy    = "after-healthy"    // it passed its health gate
	AfterRegister   = "after-register"   // the load balancers route to the wave's new tasks; the old ones drain
	AfterStopOld    = "after-stop-old"   // an old task was stopped and removed
	BetweenWaves    = "between-waves"    // a wave is done, the next not begun
	BetweenServices = "between-services" // a service is done, the next not begun
)

// Points lists every point, for tests that walk them all.
var Points = []string{AfterLock, AfterImage, AfterCreate, AfterStart, AfterHealthy, AfterRegister, AfterStopOld, BetweenWaves, BetweenServices}

var (
	once   sync.Once
	armed  string
	target = 1
	mu     sync.Mutex
	hits   int
)

func arm() {
	v := os.Getenv(Env)
	name, n, ok := strings.Cut(v, ":")
	armed = name
	if ok {
		if k, err := strconv.Atoi(n); err == nil && k > 0 {
			target = k
		}
	}
}

// Hit marks that the process passed point. When the point is armed and this is the
// armed hit, the process is killed at once: no deferred function runs, as in a real crash.
func Hit(point string) {
	once.Do(arm)
	if armed == "" || armed != point {
		return
	}
	mu.Lock()
	hits++
	fire := hits == target
	mu.Unlock()
	if fire {
		fmt.Fprintf(os.Stderr, "deck: failpoint %s: killing the process\n", point)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; never return to the caller
	}
}
