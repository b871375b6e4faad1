#!/bin/bash
# bench/lib/posthorn.sh: the Posthorn side of the benchmark: an instance made by
# `posthorn init` in $BENCH_TMP/posthorn (loopback, port offset $PH_OFFSET, domain
# $BENCH_DOMAIN) from the binaries in $PH_BIN, with Maildir users, started and stopped
# with the posthorn command. Durability is Posthorn's only mode: smtpd fsyncs the queue file
# and incoming/ before 250; local-mda fsyncs the Maildir file and new/ before success.
# For the submission and smtp-relay loads it gets the same certificate, TLS version, relay
# host and concurrency limit as the private Postfix. Sourced by bench/run; needs BENCH_TMP,
# PH_BIN, PH_OFFSET, BENCH_DOMAIN, BENCH_CERT, BENCH_KEY, SINK_PORT, BENCH_RELAY_CONCURRENCY.
set -u

PH_DIR=""
PH_PIDS=""   # master and children seen while running, for the last-resort cleanup

ph() { "$PH_BIN/posthorn" -c "$PH_DIR/etc" "$@"; }
ph_conf() { ph conf "$1" | sed 's/^[^=]*= *//'; }
ph_maildir() { echo "$(ph_conf virtual_mailbox_base)/$BENCH_DOMAIN/$1"; }
ph_master_pid() { head -1 "$PH_DIR/spool/pid/master.pid" 2>/dev/null | tr -d ' '; }
ph_has_service() { grep -Eq "^[^#[:space:]]+[[:space:]]+inet[[:space:]].*[[:space:]]$1( |\$)" \
    "$PH_DIR/etc/master.cf" 2>/dev/null; }
# ph_has_agent DAEMON: a unix service (a delivery agent such as smtp-client) runs DAEMON.
ph_has_agent() { grep -Eq "^[^#[:space:]]+[[:space:]]+unix[[:space:]].*[[:space:]]$1( |\$)" \
    "$PH_DIR/etc/master.cf" 2>/dev/null; }

# ph_setup PASSWORD USER...: create the instance and the users (all with PASSWORD).
ph_setup() {
    local pass=$1
    shift
    PH_DIR="$BENCH_TMP/posthorn"
    "$PH_BIN/posthorn" init "$PH_DIR" --hostname "ph.$BENCH_DOMAIN" --domain "$BENCH_DOMAIN" \
        --listen 127.0.0.1 --port-offset "$PH_OFFSET" >"$BENCH_TMP/ph-init.log" 2>&1 || {
        echo "bench: posthorn init failed:" >&2
        cat "$BENCH_TMP/ph-init.log" >&2
        return 1
    }
    # Each `user add` computes a 64 MiB Argon2 hash: nproc of them at once.
    printf '%s\n' "$@" | PH_PASS=$pass xargs -P "$(nproc)" -I{} sh -c \
        'printf "%s\n" "$PH_PASS" | "$0" -c "$1" user add "$2" --password-stdin >/dev/null ||
         { echo "bench: posthorn user add $2 failed" >&2; exit 255; }' \
        "$PH_BIN/posthorn" "$PH_DIR/etc" "{}@$BENCH_DOMAIN" || return 1
    # The same two limits as the Postfix side: enough sessions from 127.0.0.1 for idle-mem.
    ph conf set smtpd_client_connection_count_limit=0 >/dev/null || return 1
    # The POP3 and IMAP loads log in without TLS on 110 and 143 (as on the Dovecot side).
    ph conf set login_allow_plaintext_auth=yes >/dev/null || return 1
    # Submission: the certificate the Postfix side uses too, TLS 1.3 only; no per-user
    # sending limits (Postfix has none by default; Posthorn's would put the load's users on
    # hold after 300 messages an hour).
    ph conf set "smtpd_tls_cert_file=$BENCH_CERT" "smtpd_tls_key_file=$BENCH_KEY" \
        smtpd_tls_protocols_min=TLSv1.3 submission_message_rate_limit=0 \
        submission_recipient_rate_limit=0 submission_message_hard_limit=0 \
        submission_recipient_hard_limit=0 >/dev/null || return 1
    # smtp-relay: mail for other domains to the sink, in plaintext, with Postfix's limits.
    ph conf set "relayhost=[127.0.0.1]:$SINK_PORT" smtp_tls_security_level=none \
        "default_destination_concurrency_limit=$BENCH_RELAY_CONCURRENCY" \
        "smtp_destination_concurrency_limit=$BENCH_RELAY_CONCURRENCY" >/dev/null || return 1
    ph check >&2 || return 1
}

ph_start() {
    ph start >"$BENCH_TMP/ph-start.log" 2>&1 || {
        echo "bench: posthorn start failed:" >&2
        cat "$BENCH_TMP/ph-start.log" >&2
        return 1
    }
    bench_wait_port "$((25 + PH_OFFSET))" 20 || {
        echo "bench: posthorn smtpd not listening" >&2
        return 1
    }
    PH_PIDS=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import procmem
print(" ".join(map(str, procmem.tree(int(sys.argv[2])))))' "$BENCH_LIB" "$(ph_master_pid)")
}

ph_stop() {
    [ -n "$PH_DIR" ] && [ -e "$PH_DIR/etc/main.cf" ] || return 0
    local pid p
    pid=$(ph_master_pid)
    ph stop >/dev/null 2>&1 || true
    bench_wait_gone "$pid" 20 || true
    # Last resort, only for processes this run started (recorded at start).
    for p in $pid $PH_PIDS; do
        case $(readlink "/proc/$p/exe" 2>/dev/null) in
        "$PH_BIN"/*) kill -9 "$p" 2>/dev/null ;;
        esac
    done
    return 0
}

# Messages still in the Posthorn queue.
ph_queue_count() {
    find "$PH_DIR/spool/incoming" "$PH_DIR/spool/active" "$PH_DIR/spool/deferred" \
        -type f 2>/dev/null | wc -l
}
