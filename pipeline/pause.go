package pipeline

import (
	"context"
	"time"
)

// Pause waits d; false when ctx ended first. The log follower, the controller and the
// CLI's refresh loops wait with it.
func Pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
