package podman

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkCreateRemove measures one task's create, start (and the inspect Start makes) and its removal on h1,
// reported apart as create-ms/op and remove-ms/op.
func BenchmarkCreateRemove(b *testing.B) {
	h, _ := hosts(b)
	ctx := context.Background()
	var creating, removing time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		task, err := h.Create(ctx, taskSpec(fmt.Sprintf("bench-%d-%s", i, unique("c")), "bench"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.Start(ctx, task.ContainerID); err != nil {
			_ = h.Remove(ctx, task.ContainerID)
			b.Fatal(err)
		}
		creating += time.Since(start)
		start = time.Now()
		if err := h.Remove(ctx, task.ContainerID); err != nil {
			b.Fatal(err)
		}
		removing += time.Since(start)
	}
	b.ReportMetric(float64(creating.Milliseconds())/float64(b.N), "create-ms/op")
	b.ReportMetric(float64(removing.Milliseconds())/float64(b.N), "remove-ms/op")
}
