// Package controller is deck's service scheduler: what the ECS service scheduler does for
// a service, for the services of one app and environment on a fleet of Podman hosts.
// `deck deploy` says what should run and records it on the hosts; the controller keeps it
// that way. It replaces tasks whose containers exit or fail their health checks, moves the
// tasks of hosts that stay unreachable past a grace period (and stops them as stale when
// their host returns), and backs off from services whose tasks keep failing.
//
// It keeps no state of its own: everything is rebuilt from the hosts (pipeline.FromHosts),
// so kill -9 and a restart on another machine lose nothing. Each reconcile is the deploy
// pipeline in Heal mode (read, plan, lock, recheck, apply): a controller and a deploy take
// the same lock and never act on a service at once. Reconciles are driven by the hosts'
// Podman event streams, by its own health probes and by a periodic full resync.
//
// Leadership: only the controller that holds the environment's leader lease acts; every
// change it makes is fenced by the epoch of the deploy lock it takes for that change.
package controller
