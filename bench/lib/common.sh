#!/bin/bash
# bench/lib/common.sh: small helpers shared by the benchmark scripts: waiting for a port or a
# process, and recording one figure (posthorn value, incumbent value, unit, which way is
# better) into the results file that bench/lib/report.py turns into the table.
# Sourced by bench/run.
set -u

bench_log() { echo "bench: $*" >&2; }

# bench_wait_port PORT SECONDS: 0 once something listens on 127.0.0.1:PORT.
bench_wait_port() {
    local port=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

# bench_port_free PORT: 0 when nothing listens on it.
bench_port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# bench_wait_gone PID SECONDS: wait for a process to exit (no-op for an empty pid).
bench_wait_gone() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# bench_record NAME POSTHORN INCUMBENT UNIT higher|lower [NOTE]: one figure; POSTHORN or
# INCUMBENT may be "skipped" (with the reason in NOTE).
bench_record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}" >> "$BENCH_RESULTS"
}
