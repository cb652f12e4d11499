# Shell helpers the bench scripts share (sourced, not run). The caller sets bench_name (the
# log prefix) and lock (the test hosts' lock file) first.

log() { echo "${bench_name:-bench}: $(date +%T) $*" >&2; }
now_ms() { date +%s%3N; }

# median of the numbers on stdin (the mean of the middle two for an even count); runs that
# failed ("fail") are left out, and only failures give "fail".
median() {
	grep -E '^[0-9]+(\.[0-9]+)?$' | sort -g |
		awk '{a[NR]=$1} END {if (NR == 0) print "fail"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# lock_hosts takes the lock that testhosts' Go users hold while their hosts are up, so no
# test tears these hosts down mid-run (and none is torn down by us). While a test holds it,
# wait: poll every 10 s, up to 15 minutes.
lock_hosts() {
	local waited=0
	exec 9>>"$lock"
	until flock -n 9; do
		[ "$waited" -lt 900 ] || { log "the test hosts stayed busy for 15 min ($lock); giving up"; exit 1; }
		[ "$waited" -gt 0 ] || log "a test is using the test hosts ($lock); waiting for it (up to 15 min)"
		sleep 10
		waited=$((waited + 10))
	done
	# Tells hosts.sh that this process holds the lock.
	export DECK_TESTHOSTS_LOCKED=1
}
