#!/bin/bash
# bench/lib/submission_loads.sh: the loads of bench/run that log in over TLS and submit,
# Posthorn's submission service against Postfix's (smtpd with SASL through Dovecot), one
# side at a time, with the same client (smtp_load.py --tls --auth: TLS 1.3 with the same
# certificate on both sides, AUTH PLAIN, users sub0, sub1 ... with the same Argon2id hash):
#   load_submission   authenticated sessions per second (one message each, on the
#                     STARTTLS port) and messages per second (many per session, on the
#                     implicit-TLS port), to a local user delivered into its Maildir
#   load_smtp_relay   messages submitted for a remote domain and relayed by each side's
#                     SMTP client to Postfix's smtp-sink on loopback, end to end
# Figures are recorded with bench_record; a side that cannot run a load records "skipped"
# or "failed" with the reason. Sourced by bench/run after loads.sh (uses kv, calc,
# wait_drained).
set -u

SINK_PID="" SINK_LOG="" SINK_WANT=0   # SINK_WANT: messages the sink should have had so far
SUB_RCPT=subrcpt   # the local recipient of the submission load
RELAY_RCPT=sink@relay.test

# sub_run SIDE PORT starttls|implicit COUNT PER_SESSION [smtp_load.py OPTION...]: one
# client run of COUNT messages in sessions of PER_SESSION, $SESSIONS at a time, by users
# sub0..; sets SUB_OUT (and logs it), or returns 1 with the reason in SUB_ERR.
sub_run() {
    local side=$1 port=$2 tls=$3 count=$4 per=$5
    shift 5
    SUB_ERR=""
    if ! SUB_OUT=$("$PY" "$BENCH_LIB/smtp_load.py" --port "$port" --messages "$count" \
        --size "$SIZE" --sessions "$SESSIONS" --tls "$tls" --auth "sub%d@$BENCH_DOMAIN" \
        --users "$SUB_USERS" --password "$BENCH_PASS" --per-session "$per" \
        --cafile "$BENCH_CERT" --timeout $((120 + count / 10)) "$@" \
        2>"$BENCH_TMP/sub.err"); then
        SUB_ERR=$(head -c 300 "$BENCH_TMP/sub.err" | tr '\n\t' '  ')
        bench_log "$side submission load failed: $SUB_ERR"
        return 1
    fi
    bench_log "$side $tls $count msgs: $SUB_OUT"
    wait_drained "$side"
}

# run_note OUT: what a run's line says besides the rate: the delivery time, the TLS the
# client saw, the client's CPU time.
run_note() {
    echo "(delivered $(kv e2e_s "$1")s) $(kv tls "$1") $(kv cipher "$1") client CPU $(kv client_cpu_s "$1")s"
}

# sub_side SIDE STARTTLS_PORT IMPLICIT_PORT: warm-up, then the sessions run and the
# messages run; sets SS (sessions/s) and SM (msg/s), or "failed", and adds to NOTE.
sub_side() {
    local side=$1 p587=$2 p465=$3 maildir files want per
    maildir=$("${side}_maildir" "$SUB_RCPT")
    local dest=(--to "$SUB_RCPT@$BENCH_DOMAIN" --maildir "$maildir")
    SS=failed SM=failed
    if ! sub_run "$side" "$p587" starttls "$SESSIONS" 1 "${dest[@]}"; then
        NOTE="$NOTE $side failed (warm-up): $SUB_ERR;"
        return 0
    fi
    want=$SESSIONS
    if sub_run "$side" "$p587" starttls "$SUB_SESSIONS" 1 "${dest[@]}"; then
        SS=$(calc "$SUB_SESSIONS / $(kv accept_s "$SUB_OUT")")
        want=$((want + SUB_SESSIONS))
        NOTE="$NOTE $side sessions $(kv accept_s "$SUB_OUT")s $(run_note "$SUB_OUT");"
    else
        NOTE="$NOTE $side sessions failed: $SUB_ERR;"
    fi
    per=$(((MESSAGES + SESSIONS - 1) / SESSIONS))
    if sub_run "$side" "$p465" implicit "$MESSAGES" "$per" --barrier "${dest[@]}"; then
        SM=$(calc "$MESSAGES / $(kv accept_s "$SUB_OUT")")
        want=$((want + MESSAGES))
        NOTE="$NOTE $side messages $(kv accept_s "$SUB_OUT")s $(run_note "$SUB_OUT");"
    else
        NOTE="$NOTE $side messages failed: $SUB_ERR;"
    fi
    # After the queue drained: exactly one file per message sent, no loss, no duplicate.
    files=$(find "$maildir/new" "$maildir/cur" -type f | wc -l)
    [ "$files" = "$want" ] || NOTE="$NOTE $side has $files files for $want messages;"
}

load_submission() {
    local ps=skipped pm=skipped is im per
    NOTE=""
    sub_side pf "$PF_SUB_PORT" "$PF_SUBS_PORT"
    is=$SS im=$SM
    if ph_ready submission; then
        sub_side ph "$((587 + PH_OFFSET))" "$((465 + PH_OFFSET))"
        ps=$SS pm=$SM
    fi
    per=$(((MESSAGES + SESSIONS - 1) / SESSIONS))
    bench_record submission-sessions "$ps" "$is" sessions/s higher \
        "$SUB_SESSIONS sessions (connect, EHLO, STARTTLS, EHLO, AUTH PLAIN, 1 x ${SIZE}B, QUIT) on the STARTTLS port, $SESSIONS parallel, users sub0..sub$((SUB_USERS - 1)), TLS 1.3 same cert, Argon2id m=64MiB t=3 both sides; time until the last QUIT;$NOTE"
    bench_record submission-msgs "$pm" "$im" msg/s higher \
        "$MESSAGES x ${SIZE}B in $SESSIONS parallel sessions of $per on the implicit-TLS port, clock started once all had logged in; time until the last QUIT (same run)"
}

# sink_start: Postfix's smtp-sink on 127.0.0.1:$SINK_PORT, counting (-c) into SINK_LOG.
sink_start() {
    SINK_LOG=$BENCH_TMP/sink.log
    /usr/sbin/smtp-sink -u nobody -c -h sink.relay.test "127.0.0.1:$SINK_PORT" 1024 \
        >"$SINK_LOG" 2>"$BENCH_TMP/sink.err" &
    SINK_PID=$!
    bench_wait_port "$SINK_PORT" 10 || {
        echo "bench: smtp-sink not listening: $(head -c 200 "$BENCH_TMP/sink.err")" >&2
        return 1
    }
}

# sink_count: messages the sink has received (its last -c record).
sink_count() {
    local n
    n=$(tr '\r' '\n' <"$SINK_LOG" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1)
    echo "${n:-0}"
}

sink_stop() {
    [ -n "$SINK_PID" ] || return 0
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true   # 143: it ended on the TERM
    SINK_PID=""
}

# relay_side SIDE IMPLICIT_PORT: warm-up, then the measured relay run; sets RR (msg/s
# relayed end to end) or "failed", and adds to NOTE.
relay_side() {
    local side=$1 port=$2 warm=$((MESSAGES < 100 ? MESSAGES : 100)) out
    local dest=(--to "$RELAY_RCPT" --sink-log "$SINK_LOG" --sink-port "$SINK_PORT" --barrier)
    RR=failed
    SINK_WANT=$(($(sink_count) + warm + MESSAGES))
    if ! sub_run "$side" "$port" implicit "$warm" $(((warm + SESSIONS - 1) / SESSIONS)) \
        "${dest[@]}" ||
        ! sub_run "$side" "$port" implicit "$MESSAGES" $(((MESSAGES + SESSIONS - 1) / SESSIONS)) \
            "${dest[@]}"; then
        NOTE="$NOTE $side failed: $SUB_ERR;"
        return 0
    fi
    out=$SUB_OUT
    # After the queue drained: exactly one message at the sink per message sent.
    [ "$(sink_count)" = "$SINK_WANT" ] ||
        NOTE="$NOTE the sink has $(sink_count) messages after $side, $SINK_WANT expected;"
    RR=$(calc "$MESSAGES / $(kv e2e_s "$out")")
    NOTE="$NOTE $side submitted in $(kv accept_s "$out")s, relayed in $(kv e2e_s "$out")s,"
    NOTE="$NOTE at most $(kv max_conns "$out") connections to the sink at once, client CPU $(kv client_cpu_s "$out")s;"
    # Let the side's cached connections to the sink expire (2 s on both) before the next
    # side is sampled.
    sleep 3
}

load_smtp_relay() {
    local pr=skipped ir=failed
    NOTE=""
    if ! sink_start; then
        NOTE="$NOTE smtp-sink did not start;"
        ir=failed pr=failed
    else
        relay_side pf "$PF_SUBS_PORT"
        ir=$RR
        if ph_ready submission smtp-client; then
            relay_side ph "$((465 + PH_OFFSET))"
            pr=$RR
        fi
        sink_stop
    fi
    bench_record smtp-relay "$pr" "$ir" msg/s higher \
        "$MESSAGES x ${SIZE}B to $RELAY_RCPT submitted over implicit TLS + AUTH PLAIN ($SESSIONS sessions, clock started once all had logged in) and relayed to smtp-sink on 127.0.0.1:$SINK_PORT (relayhost, no TLS, destination concurrency limit $BENCH_RELAY_CONCURRENCY on both sides); time until the sink had received all;$NOTE"
}
