// Package lock is the deploy lock: one deploy per app+environment at a time, seen alike by
// a laptop and a CI runner. It has no server of its own; NewHostsLocker keeps it on the
// environment's hosts (an etcd Locker can come later behind the same interfaces).
//
// # Where the lock lives
//
// On a majority (quorum) of the environment's n hosts: n/2+1 of them (1 of 1; both of 2;
// 2 of 3; 3 of 5). One host down out of three still leaves a majority, so deploys go on;
// yet two deployers can never both hold it, since any two majorities share a host and a
// host lets only one of them in. With fewer than a majority answering, Acquire fails with
// a *QuorumError naming the hosts it cannot reach and how many it needs. A single host
// would be a single point of failure; all hosts would let one dead host block every
// deploy.
//
// # On each host: a chain of generations
//
// Records are immutable and created atomically by name (providers.Records), so each host
// keeps a chain: deck-lock.<hash of app+env>.g1, .g2, ... Generation N+1 is created only by
// someone who saw N free there (released, or expired). Two contenders who both saw N free
// race on the same name N+1, and the host lets exactly one create it. The labels of a
// generation say who created it (user, machine, pid, command, why), its epoch and TTL, and
// for a release or break, released=true and whom it broke.
//
// Contenders claim hosts one after another in the same (name) order and stop at the
// first host they lose: claiming all at once would let N contenders split the hosts so
// that none has a majority. In a common order, whoever wins the first contested host
// meets no one further on. A contender short of a majority removes what it created.
//
// # Expiry, renewal and fencing
//
// A holder renews by adding records <generation>.r<seq> (records cannot be changed); a
// generation expires when its host's clock (never the client's) says more than its TTL
// passed since its newest record. The holder trusts its lease until the time it sent its
// last write that reached a majority, plus the TTL, minus a margin (host record times have
// one-second precision; clocks run at slightly different rates). A holder that was paused
// (SIGSTOP, a sleeping laptop) finds Check failing before anyone else can take the lock.
// A renewal names the activity it follows and extends its generation only if it landed
// within the TTL of it: expiry, once seen, is final, so a renewal delayed in the network
// cannot revive a generation that a contender already judged expired. Each host's clock is
// read before its records, for the same reason.
//
// Epochs are fencing tokens: a new holder's epoch is the highest epoch on the hosts it
// read, plus one. Every earlier holder's epoch is on a majority, which meets the majority
// read, so epochs strictly increase; releases and breaks write a generation too, keeping
// the highest epoch on the chain. Old generations are garbage-collected: each host keeps
// the newest two (and a holder only its newest renewal).
//
// A host that was down keeps a stale chain; it cannot let a second deployer in, because
// the current holder is live on a majority, which every contender's majority meets. The
// holder's renewals join such a host once it is back and free there.
//
// # Other locks
//
// WithName keeps another lock of the same app+environment on the same hosts, such as the
// controller's leadership (providers/leader): the name enters the hash of its record
// names, so it and the deploy lock never meet, and the deploy lock's names stay as they
// were.
//
// Break (deck lock release --force) writes a released generation with an epoch above the
// holder's, naming the breaker, on a majority; the holder's next renewal finds it, its
// Lost channel closes and Check names the breaker.
package lock
