#!/bin/bash
# bench/lib/loads.sh: the loads of bench/run. Each runs the same work against the incumbent
# (private Postfix, Dovecot) and against Posthorn, one side at a time, and records figures
# with bench_record. A side that cannot do the load records "skipped" or "failed" with the
# reason instead of a number. Sourced by bench/run (uses its variables).
set -u

# kv KEY LINE: the value of KEY=VALUE in a line of "k=v k=v" output.
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
# calc EXPR: floating point arithmetic (awk), printed with 4 decimals.
calc() { awk "BEGIN { printf \"%.4f\", $1 }"; }

# ph_ready DAEMON...: 0 when Posthorn runs and its master.cf has a service running each
# DAEMON (inet or unix); else 1, with the reason added to NOTE.
ph_ready() {
    local d
    if [ "$PH_OK" != 1 ]; then
        NOTE="$NOTE posthorn not running;"
        return 1
    fi
    for d in "$@"; do
        ph_has_service "$d" || ph_has_agent "$d" || {
            NOTE="$NOTE Posthorn has no $d: skipped;"
            return 1
        }
    done
}

# wait_drained NAME: until the side's queue is empty (bounded), so loads do not overlap.
wait_drained() {
    local i
    for ((i = 0; i < 300; i++)); do
        [ "$("${1}_queue_count")" = 0 ] && return 0
        sleep 0.1
    done
    bench_log "$1: queue not empty after 30s"
}

load_fsync_ceiling() {
    local t=3
    [ "$QUICK" = 1 ] && t=1
    CEIL1=$("$BENCH_HOME/fsync-ceiling" -q -j 1 -t $t "$BENCH_TMP")
    CEILN=$("$BENCH_HOME/fsync-ceiling" -q -j "$SESSIONS" -t $t "$BENCH_TMP")
    echo "bench: fsync-ceiling writers=1 rate=$CEIL1 writers=$SESSIONS rate=$CEILN unit=ops/s" \
        "(create+write ${SIZE}B+fsync+rename+dirfsync in $BENCH_TMP)"
}

# smtp_run SIDE PORT USER COUNT: one smtp_load.py run; sets SMTP_OUT, or returns 1 with the
# reason in SMTP_ERR.
smtp_run() {
    local side=$1 port=$2 user=$3 count=$4 maildir
    maildir=$("${side}_maildir" "$user")
    SMTP_ERR=""
    if ! SMTP_OUT=$("$PY" "$BENCH_LIB/smtp_load.py" --port "$port" --messages "$count" \
        --size "$SIZE" --sessions "$SESSIONS" --to "$user@$BENCH_DOMAIN" \
        --maildir "$maildir" --timeout $((60 + count / 20)) 2>"$BENCH_TMP/smtp.err"); then
        SMTP_ERR=$(head -c 300 "$BENCH_TMP/smtp.err" | tr '\n\t' '  ')
        bench_log "$side smtp load failed: $SMTP_ERR"
        return 1
    fi
    wait_drained "$side"
}

# smtp_side SIDE PORT: warm-up, then the measured run; sets ACC and E2E rates (msg/s) and
# SECS, or "failed" with NOTE.
smtp_side() {
    local side=$1 port=$2 warm=$((MESSAGES < 100 ? MESSAGES : 100))
    ACC=failed E2E=failed SECS=""
    if ! smtp_run "$side" "$port" warm "$warm" || ! smtp_run "$side" "$port" user "$MESSAGES"
    then
        NOTE="$NOTE $side failed: $SMTP_ERR;"
        return 0
    fi
    local a e d
    a=$(kv accept_s "$SMTP_OUT") e=$(kv e2e_s "$SMTP_OUT") d=$(kv delivered "$SMTP_OUT")
    ACC=$(calc "$MESSAGES / $a") E2E=$(calc "$MESSAGES / $e") SECS="${a}s/${e}s"
    # After the queue drained: exactly MESSAGES files, no loss and no duplicate.
    d=$(find "$("${side}_maildir" user)/new" "$("${side}_maildir" user)/cur" -type f | wc -l)
    [ "$d" = "$MESSAGES" ] || NOTE="$NOTE $side has $d files for $MESSAGES messages;"
    bench_log "$side: $MESSAGES messages accepted in ${a}s, delivered in ${e}s"
}

load_smtp() {
    local pa=skipped pe=skipped ia ie ps="" is
    NOTE=""
    smtp_side pf "$PF_PORT"
    ia=$ACC ie=$E2E is=$SECS
    if [ "$PH_OK" = 1 ]; then
        smtp_side ph "$((25 + PH_OFFSET))"
        pa=$ACC pe=$E2E ps=$SECS
    else
        NOTE="$NOTE posthorn not running;"
    fi
    local what="$MESSAGES x ${SIZE}B, $SESSIONS sessions (accept/e2e s: ph ${ps:--} pf ${is:--});"
    bench_record smtp-e2e "$pe" "$ie" msg/s higher "$what$NOTE"
    bench_record smtp-accept "$pa" "$ia" msg/s higher "$what$NOTE"
    local fp=skipped fi=skipped
    [[ $pe =~ ^[0-9.]+$ ]] && fp=$(calc "$pe / $CEIL1")
    [[ $ie =~ ^[0-9.]+$ ]] && fi=$(calc "$ie / $CEIL1")
    bench_record e2e-vs-ceiling "$fp" "$fi" fraction higher \
        "smtp-e2e msg/s / fsync ceiling $CEIL1/s (1 writer; $CEILN/s with $SESSIONS)"
}

# pop3_fill SIDE PORT: deliver --pop3-messages messages of --size over SMTP to each POP3
# user (pop0 .. pop{POP3_USERS-1}) of that side; appends the mailboxes' content to NOTE.
pop3_fill() {
    local side=$1 port=$2 k files bytes
    for ((k = 0; k < POP3_USERS; k++)); do
        smtp_run "$side" "$port" "pop$k" "$POP3_MESSAGES" || return 1
    done
    # The same number of files on both sides; sizes differ only by each side's trace headers.
    read -r files bytes < <(for ((k = 0; k < POP3_USERS; k++)); do
        find "$("${side}_maildir" "pop$k")/new" "$("${side}_maildir" "pop$k")/cur" -type f \
            -printf '%s\n'
    done | awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }')
    [ "$files" = $((POP3_USERS * POP3_MESSAGES)) ] ||
        { SMTP_ERR="$files files in the POP3 mailboxes"; return 1; }
    NOTE="$NOTE $side $((files / POP3_USERS)) msgs/user avg $((bytes / files))B;"
}

# pop3_side PORT: one unmeasured session per user (fills the server's caches and indexes),
# then the measured sessions, worker k logging in as popk; echoes the pop3load line.
pop3_side() {
    local tool=$BENCH_TOOLS/pop3load
    "$tool" -p "$1" -u "pop%d@$BENCH_DOMAIN" -w "$BENCH_PASS" -n "$POP3_USERS" \
        -c "$POP3_USERS" -m "$POP3_MESSAGES" >/dev/null || return 1
    "$tool" -p "$1" -u "pop%d@$BENCH_DOMAIN" -w "$BENCH_PASS" -n "$POP3_SESSIONS" \
        -c "$POP3_USERS" -m "$POP3_MESSAGES"
}

load_pop3() {
    local p=skipped i=failed out
    NOTE=""
    if pop3_fill pf "$PF_PORT" && out=$(pop3_side "$DV_POP3_PORT"); then
        i=$(calc "$POP3_SESSIONS / $(kv seconds "$out")")
        bench_log "dovecot pop3: $out"
        NOTE="$NOTE dovecot sent $(kv bytes "$out")B;"
    else
        NOTE="$NOTE dovecot failed;"
    fi
    if [ "$PH_OK" != 1 ]; then
        NOTE="$NOTE posthorn not running;"
    elif ! ph_has_service pop3d; then
        NOTE="$NOTE Posthorn has no pop3d: skipped;"
    elif pop3_fill ph "$((25 + PH_OFFSET))" && out=$(pop3_side "$((110 + PH_OFFSET))"); then
        p=$(calc "$POP3_SESSIONS / $(kv seconds "$out")")
        bench_log "posthorn pop3: $out"
        NOTE="$NOTE posthorn sent $(kv bytes "$out")B;"
    else
        p=failed NOTE="$NOTE posthorn failed;"
    fi
    bench_record pop3 "$p" "$i" sessions/s higher \
        "$POP3_SESSIONS sessions x (login STAT UIDL RETR*$POP3_MESSAGES QUIT), $POP3_USERS parallel (one user each);$NOTE"
}

# idle_side SIDE CONNS PORT MASTERPID EXEDIR MARKER [idle.py OPTION...]: sets RSS and PSS per
# session (KiB): (sum with the sessions open - sum before) / sessions, or "failed"; IDLE_OUT
# holds idle.py's output (also when it failed: how many sessions got how far).
idle_side() {
    local side=$1 conns=$2 port=$3 pid=$4 exedir=$5 marker=$6 out rc=0
    shift 6
    RSS=failed PSS=failed
    out=$("$PY" "$BENCH_LIB/idle.py" --port "$port" --conns "$conns" --master-pid "$pid" \
        --exe-dir "$exedir" --marker "$marker" --timeout 180 "$@" 2>"$BENCH_TMP/idle.err") || rc=1
    IDLE_OUT=$out
    bench_log "$side idle: $out"
    if [ $rc != 0 ]; then
        NOTE="$NOTE $side: $(head -c 200 "$BENCH_TMP/idle.err" | tr '\n\t' '  ');"
        return 0
    fi
    RSS=$(calc "($(kv rss_after "$out") - $(kv rss_before "$out")) / $conns")
    PSS=$(calc "($(kv pss_after "$out") - $(kv pss_before "$out")) / $conns")
    NOTE="$NOTE $side procs $(kv procs_before "$out")->$(kv procs_after "$out")"
    NOTE="$NOTE RSS $(kv rss_before "$out")->$(kv rss_after "$out") KiB"
    NOTE="$NOTE PSS $(kv pss_before "$out")->$(kv pss_after "$out") KiB"
    [ "$(kv answered "$out")" = - ] || NOTE="$NOTE, $(kv answered "$out") answered NOOP"
    [ "$(kv settled "$out")" = yes ] || NOTE="$NOTE (memory not settled)"
    NOTE="$NOTE;"
}

load_idle_mem() {
    local pr=skipped pp=skipped ir ip
    NOTE=""
    # Fresh instances, so the "before" figure holds no processes left from earlier loads.
    pf_stop && pf_start
    idle_side postfix "$IDLE_CONNS" "$PF_PORT" "$(pf_master_pid)" /usr/lib/postfix \
        "MAIL_CONFIG=$PF_DIR/etc"
    ir=$RSS ip=$PSS
    if [ "$PH_OK" = 1 ] && ph_stop && ph_start; then
        idle_side posthorn "$IDLE_CONNS" "$((25 + PH_OFFSET))" "$(ph_master_pid)" "$PH_BIN" \
            "$PH_DIR/etc"
        pr=$RSS pp=$PSS
    fi
    local what="$IDLE_CONNS idle greeted SMTP sessions, all open when measured; Postfix default_process_limit raised to $((IDLE_CONNS + 100));"
    bench_record idle-mem "$pr" "$ir" KiB/conn lower "VmRSS sum, $what"
    bench_record idle-mem-pss "$pp" "$ip" KiB/conn lower "Pss sum (shared pages split);$NOTE"
}
