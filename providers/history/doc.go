// Package history keeps the numbered revisions of each service, how each deploy ended,
// and the lock breaks, on the environment's hosts: `deck rollback` redeploys a revision
// from there without rebuilding, and `deck history` shows who deployed what, when, from
// where, with which commit, and how it ended. Like providers/lock it has no server and
// no I/O of its own: everything is a providers.Records record.
//
// # Records
//
// Records are immutable and created atomically by name. Names fit Podman's secret names
// (at most 64 of [A-Za-z0-9._-]); app, environment and service enter only as digests:
//
//	deck-rev.<12 hex of app+env>.<12 hex of app+env+service>.<N>       revision N
//	deck-rev.<12 hex of app+env>.<12 hex of app+env+service>.<N>.done  how revision N ended
//	deck-rev.<12 hex of app+env>.break.<holder id>                     a broken deploy lock
//
// The first part lists a whole app+environment (Services, Audit), the first two one
// service (List). Labels hold the content: deck.app, deck.env and deck.service (the task
// labels' keys, for people listing the secrets and to tell apart two names whose digests
// collide), deck.history.record (which of the three it is) and deck.history, the content
// as versioned JSON. A revision's task definition holds its secrets as digests only.
//
// # Numbers
//
// Create gives a revision 1 + the highest number seen on any reachable host and writes
// it to every reachable host, one after another in name order, stopping at the first
// host where the name is taken by another revision: then it withdraws its copies and
// tries the next number. In a common order, of two writers the one that wins the first
// host both try meets no one further on, so concurrent deploys get distinct numbers.
// Create also copies the service's finished revisions and their outcomes to reachable
// hosts that lack them (a host that was down), so the history survives losing the hosts
// that had it.
//
// A host cut off from the others while deploys go on can give a number out twice; a
// reader then takes, for each name, the content kept on the most hosts (then the older
// one). Nothing is pruned: a revision is a few KB, the history of a service a few MB.
package history
