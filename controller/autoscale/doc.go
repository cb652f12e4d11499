// Package autoscale is deck's target tracking, the job ECS's Application Auto Scaling does
// for a service: a Sampler measures a service's tasks (CPU and memory from the hosts'
// Podman stats, requests in flight from the load balancers) over a window, and Decide, a
// pure function, says what the service's count should be and why. The controller runs
// both in its loop and applies a decision with pipeline.SetDesiredCount.
//
// # What is measured
//
//   - cpu: CPU used relative to the task's cpu reservation, as ECS's CPUUtilization: a
//     task with cpu: 256 (256/1024 = a quarter of a vCPU) that keeps one core busy is at
//     400%. Podman's one-shot stats give a cumulative CPU time; the rate is the difference
//     of two readings of the same container (its own one-shot percent is the average
//     since the container started, not the load now).
//   - memory: memory in use relative to the task's memory limit.
//   - requests: the average number of requests in flight per task, as the load balancers
//     count them. Caddy 2.6 counts nothing else per target (no request totals per route or
//     upstream), so deck tracks concurrency, as Knative does, rather than ALB's requests
//     per target per minute: a task that answers 100 requests a second in 50 ms has 5 in
//     flight. It is read every second (in flight is a spiky number) and averaged over the
//     window; each task's count is summed over the environment's balancers, and the total
//     is divided by the tasks registered with any of them.
//
// Each metric is the mean over the window (default the last 60 s; stats read every 5 s)
// of the per-reading average over the service's tasks. A metric with fewer readings in
// the window than half the expected number is missing, and says why.
//
// # How it decides (ECS's target tracking rules)
//
//   - Out proportionally and fast: ceil(count x metric / target), the most any metric
//     asks for, within the range; no sooner than CooldownOut after the last scale-out.
//   - In gradually: only when every tracked metric has data and is below 90% of its
//     target; by at most one task or 10% of the count, never below what keeps every
//     metric at or under its target, nor below the range's min; no sooner than
//     CooldownIn after the last scaling action of either direction; never while the
//     service is being deployed.
//   - Out if any metric says so (one with missing data takes no part); in only if all do.
//     No data at all: no action.
package autoscale
