package lock

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Record names: deck-lock.<12 hex of sha256(app NUL env)>.g<N> for generation N of the
// deploy lock (sha256(app NUL env NUL name) for a lock made WithName), and
// <generation>.r<S> for its renewal S. Record names (Podman secret names) must stay within
// 64 characters of [A-Za-z0-9._-]: app and env only enter through the hash, and N and S
// are kept below 2^63 (19 digits), so the longest name is 23+20+21 = 64 characters.
const namePrefix = "deck-lock."

// Labels of a generation record: who created it (holder fields under deck.lock.), whether
// it frees the lock (released), and for a break whom it broke (under deck.lock.broke.).
// Renewal records carry deck.lock.id and deck.lock.after.
const (
	keyHolder   = "deck.lock."
	keyBroke    = "deck.lock.broke."
	keyReleased = "deck.lock.released"
	keyApp      = "deck.lock.app" // for people listing the records
	keyEnv      = "deck.lock.env"
	keyName     = "deck.lock.name" // a named lock's name (none on the deploy lock)
	keyID       = keyHolder + "id"
	keyEpoch    = keyHolder + "epoch"
	keyTTL      = keyHolder + "ttl"
	keyAfter    = keyHolder + "after" // a renewal's: the activity it follows (RFC 3339, host clock)
)

func lockPrefix(app, env, name string) string {
	key := app + "\x00" + env
	if name != "" {
		key += "\x00" + name
	}
	sum := sha256.Sum256([]byte(key))
	return namePrefix + hex.EncodeToString(sum[:])[:12] + "."
}

func genName(prefix string, n uint64) string { return prefix + "g" + strconv.FormatUint(n, 10) }

func renewalName(prefix string, n, seq uint64) string {
	return genName(prefix, n) + ".r" + strconv.FormatUint(seq, 10)
}

// parseName reads a record name under prefix: its generation, and its renewal sequence
// when it is a renewal record. ok is false for names deck did not write.
func parseName(prefix, name string) (n, seq uint64, renewal, ok bool) {
	rest, found := strings.CutPrefix(name, prefix+"g")
	if !found {
		return 0, 0, false, false
	}
	gen, r, renewal := strings.Cut(rest, ".r")
	n, err := strconv.ParseUint(gen, 10, 63)
	if err != nil || n == 0 {
		return 0, 0, false, false
	}
	if renewal {
		if seq, err = strconv.ParseUint(r, 10, 63); err != nil {
			return 0, 0, false, false
		}
	}
	return n, seq, renewal, true
}

func encodeHolder(l map[string]string, key string, h Holder) {
	l[key+"id"] = h.ID
	l[key+"user"] = h.User
	l[key+"machine"] = h.Machine
	l[key+"pid"] = strconv.Itoa(h.PID)
	l[key+"command"] = h.Command
	l[key+"why"] = h.Why
	l[key+"epoch"] = strconv.FormatUint(h.Epoch, 10)
	l[key+"ttl"] = h.TTL.String()
}

// decodeHolder reads what encodeHolder wrote; unreadable numbers read as zero, which makes
// a damaged record expire at once rather than block deploys.
func decodeHolder(l map[string]string, key string) Holder {
	h := Holder{ID: l[key+"id"], User: l[key+"user"], Machine: l[key+"machine"],
		Command: l[key+"command"], Why: l[key+"why"]}
	h.PID, _ = strconv.Atoi(l[key+"pid"])
	h.Epoch, _ = strconv.ParseUint(l[key+"epoch"], 10, 64)
	h.TTL, _ = time.ParseDuration(l[key+"ttl"])
	return h
}

func (l *HostsLocker) labels(h Holder) map[string]string {
	m := map[string]string{keyApp: l.app, keyEnv: l.env}
	if l.opts.name != "" {
		m[keyName] = l.opts.name
	}
	encodeHolder(m, keyHolder, h)
	return m
}

func (l *HostsLocker) releaseLabels(h Holder) map[string]string {
	m := l.labels(h)
	m[keyReleased] = "true"
	return m
}

func (l *HostsLocker) breakLabels(by, broken Holder) map[string]string {
	m := l.releaseLabels(by)
	encodeHolder(m, keyBroke, broken)
	return m
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
