package podman

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCreateRemove measures one task's create+start+inspect and its removal on h1.
func BenchmarkCreateRemove(b *testing.B) {
	h, _ := hosts(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		task, err := h.Create(ctx, taskSpec(fmt.Sprintf("bench-%d-%s", i, unique("c")), "bench"))
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Remove(ctx, task.ContainerID); err != nil {
			b.Fatal(err)
		}
	}
}
