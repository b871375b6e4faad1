#!/bin/bash
# bench/lib/imap_loads.sh: the IMAP loads of bench/run, Posthorn's imapd against the private
# Dovecot's imap, one side at a time, over plaintext IMAP on 127.0.0.1 (LOGIN; both sides
# allow it without TLS, and both check an {ARGON2ID} hash of the same cost):
#   load_imap_stress     Dovecot's imaptest in stress mode, the same settings on both sides
#   load_imap_idle_mem   memory per logged-in, selected, IDLE session
#   load_imap_10k        10,000 IDLE sessions on one Posthorn instance (explicit only)
# Figures are recorded with bench_record; a side that cannot do a load records "skipped" or
# "failed" with the reason. Sourced by bench/run after loads.sh (uses kv, calc, idle_side).
set -u

IMAPTEST="" IMAPTEST_WHY=""
IMAP_FILLED_PF=0 IMAP_FILLED_PH=0   # imapN users whose INBOX has been filled, per side

# imaptest_prepare: IMAPTEST (the binary) and IMAPTEST_MBOX, building imaptest into
# BENCH_BUILD/imaptest when missing (or the prefix of $BENCH_IMAPTEST when set), or 1 with
# the reason in IMAPTEST_WHY.
imaptest_prepare() {
    [ -n "$IMAPTEST" ] && return 0
    local prefix=$BENCH_BUILD/imaptest out rc=0
    [ -n "${BENCH_IMAPTEST:-}" ] && prefix=$(dirname "$(dirname "$BENCH_IMAPTEST")")
    IMAPTEST_MBOX=$BENCH_TMP/imaptest.mbox
    [ -x "$prefix/bin/imaptest" ] || bench_log "building imaptest into $prefix"
    out=$("$PY" "$BENCH_LIB/imap_stress.py" prepare --prefix "$prefix" \
        --mbox "$IMAPTEST_MBOX" 2>"$BENCH_TMP/imaptest-prepare.err") || rc=$?
    if [ $rc != 0 ]; then
        IMAPTEST_WHY="imaptest not available: $(head -c 200 "$BENCH_TMP/imaptest-prepare.err" | tr '\n\t' '  ')"
        bench_log "$IMAPTEST_WHY"
        return 1
    fi
    IMAPTEST=$(kv imaptest "$out")
}

# stress_side NAME PORT LOGTAG [STATE=N%...]: one imaptest run; sets STRESS_OUT (the totals
# line) or "".
stress_side() {
    local side=$1 port=$2 log=$BENCH_TMP/imaptest-$1-$3
    shift 3
    if STRESS_OUT=$("$PY" "$BENCH_LIB/imap_stress.py" run --imaptest "$IMAPTEST" \
        --mbox "$IMAPTEST_MBOX" --port "$port" --user "imapst@$BENCH_DOMAIN" \
        --password "$BENCH_PASS" --clients "$IMAP_CLIENTS" --secs "$IMAP_SECS" \
        --log "$log.log" "$@" 2>"$log.err"); then
        bench_log "$side imaptest $*: $STRESS_OUT"
    else
        STRESS_OUT=""
        NOTE="$NOTE $side failed: $(head -c 200 "$log.err" | tr '\n\t' '  ');"
    fi
}

# stress_rate OUT COLUMN: COLUMN's total per second of imaptest's run ("all": every
# command), or "failed"; OUT "skipped" stays so.
stress_rate() {
    local n
    case $1 in skipped) echo skipped; return ;; "") echo failed; return ;; esac
    if [ "$2" = all ]; then
        n=$(tr ' ' '\n' <<<"$1" | awk -F= '/^[A-Z][a-z0-9][a-z0-9][a-z0-9]=/ { n += $2 } END { print n }')
    else
        n=$(kv "$2" "$1")
    fi
    [ -n "$n" ] || { echo failed; return; }
    calc "$n / $IMAP_SECS"
}

# stress_pair PROFILE [STATE=N%...]: imaptest against Dovecot, then Posthorn; sets SI and SP
# (the totals lines, "" when failed, "skipped") and adds the raw totals to NOTE.
stress_pair() {
    local profile=$1
    shift
    stress_side dovecot "$DV_IMAP_PORT" "$profile" "$@"
    SI=$STRESS_OUT SP=skipped
    if ph_ready imapd; then
        stress_side posthorn "$((143 + PH_OFFSET))" "$profile" "$@"
        SP=$STRESS_OUT
    fi
    local k
    for k in SI SP; do
        [ -n "${!k}" ] && [ "${!k}" != skipped ] || continue
        NOTE="$NOTE $([ $k = SI ] && echo dovecot || echo posthorn) $(sed 's/ secs=.*//' <<<"${!k}")"
        NOTE="$NOTE, $(kv problems "${!k}") error lines;"
    done
}

# stress_record PREFIX NOTE COLUMN:FIGURE...: one figure per column (imaptest's short name,
# or "all") from SP and SI; NOTE goes with the first.
stress_record() {
    local prefix=$1 note=$2 cf
    shift 2
    for cf in "$@"; do
        bench_record "$prefix-${cf#*:}" "$(stress_rate "$SP" "${cf%%:*}")" \
            "$(stress_rate "$SI" "${cf%%:*}")" cmd/s higher "$note"
        note="(same run)"
    done
}

# Two imaptest profiles, the same settings on both sides: its default (each client logs in,
# runs one round of LIST STATUS SELECT FETCH FETCH2 STORE DELETE EXPUNGE APPEND and logs
# out, so every round pays one Argon2 check), and logout=0 (the clients stay logged in:
# the commands without the password check; SELECT then runs once per client).
load_imap_stress() {
    local what
    what="imaptest stress clients=$IMAP_CLIENTS secs=$IMAP_SECS seed=1 msgs=30, one user (imapst), plaintext IMAP LOGIN (no TLS) and Argon2id m=64MiB t=3 on both sides; INBOX empty at start, filled by imaptest's APPENDs from the same mbox; rate = total / secs (the totals include the logout phase)"
    if ! imaptest_prepare; then
        SI=skipped SP=skipped NOTE=" $IMAPTEST_WHY;"
    else
        NOTE=""
        stress_pair default
    fi
    stress_record imap-stress "$what, default profile (a login per round); all commands;$NOTE" \
        all:cmds Logi:login Sele:select Fetc:fetch Stor:store Appe:append
    if [ -n "$IMAPTEST" ]; then
        NOTE=""
        stress_pair kept logout=0
    fi
    stress_record imap-stress-kept "the same with logout=0 (clients log in once and stay); all commands;$NOTE" \
        all:cmds Fetc:fetch Stor:store Appe:append
}

# imap_fill SIDE PORT BASE UPTO: fill the INBOXes of users imapN, N < UPTO, not filled yet.
imap_fill() {
    local side=$1 port=$2 base=$3 upto=$4 var out
    var=IMAP_FILLED_${side^^}
    [ "${!var}" -lt "$upto" ] || return 0
    if ! out=$("$PY" "$BENCH_LIB/fill.py" --port "$port" --domain "$BENCH_DOMAIN" \
        --base "$base" --user "imap%d" --from "${!var}" --to "$upto" \
        --messages "$IMAP_IDLE_MESSAGES" --size "$SIZE" 2>"$BENCH_TMP/fill.err"); then
        NOTE="$NOTE $side fill failed: $(head -c 200 "$BENCH_TMP/fill.err" | tr '\n\t' '  ');"
        return 1
    fi
    bench_log "$side fill: $out"
    wait_drained "$side"
    printf -v "$var" %s "$upto"
}

# top_groups NAME...: the process groups NAME (executables) of idle.py's "top:" line: how
# the sessions spread over the processes (the descriptors each holds).
top_groups() {
    local n out=""
    for n in "$@"; do
        out="$out$(sed -n 's/^top: //p' <<<"$IDLE_OUT" | tr ';' '\n' | sed -n "s/^ *\($n x.*\)/\1; /p")"
    done
    echo "${out%; }"
}

# dv_inotify_warnings: Dovecot's "Inotify instance limit" warnings in its log so far.
dv_inotify_warnings() { grep -c 'Inotify instance limit' "$DV_DIR/log/dovecot.log" 2>/dev/null || true; }

# imap_idle_opts USERS: IDLE_OPTS, idle.py's options for IMAP sessions of users
# imap0..USERS-1.
imap_idle_opts() {
    IDLE_OPTS=(--proto imap --user "imap%d@$BENCH_DOMAIN" --users "$1"
        --password "$BENCH_PASS" --inflight 50 --noop)
}

load_imap_idle_mem() {
    local pr=skipped pp=skipped ir=failed ip=failed users=$IMAP_IDLE_USERS
    local tmo=$((120 + IMAP_IDLE_CONNS / 2))
    NOTE=""
    if imap_fill pf "$PF_PORT" "$PF_DIR/mail/$BENCH_DOMAIN" "$users" && dv_stop && dv_start; then
        local w0
        w0=$(dv_inotify_warnings)
        imap_idle_opts "$users"
        idle_side dovecot "$IMAP_IDLE_CONNS" "$DV_IMAP_PORT" "$(dv_master_pid)" \
            /usr/lib/dovecot "$DV_DIR" "${IDLE_OPTS[@]}" --timeout "$tmo"
        ir=$RSS ip=$PSS
        NOTE="$NOTE dovecot: $(($(dv_inotify_warnings) - w0)) sessions without inotify (fs.inotify.max_user_instances $(cat /proc/sys/fs/inotify/max_user_instances));"
    fi
    if ph_ready imapd; then
        pr=failed pp=failed
        if imap_fill ph "$((25 + PH_OFFSET))" "$(ph_maildir "")" "$users" && ph_stop && ph_start
        then
            imap_idle_opts "$users"
            idle_side posthorn "$IMAP_IDLE_CONNS" "$((143 + PH_OFFSET))" "$(ph_master_pid)" \
                "$PH_BIN" "$PH_DIR/etc" "${IDLE_OPTS[@]}" --timeout "$tmo"
            pr=$RSS pp=$PSS
            [ -z "$IDLE_OUT" ] || NOTE="$NOTE posthorn: $(top_groups imapd-mailbox imapd);"
        fi
    fi
    local what="$IMAP_IDLE_CONNS IMAP sessions (LOGIN, SELECT INBOX of $IMAP_IDLE_MESSAGES messages, IDLE), $IMAP_PER_USER per user over $users users, all open when measured, then DONE+NOOP on each; target <= 58 KiB per session; Dovecot: imap process_limit $DV_IMAP_PROCS (default 1024), imap_hibernate_timeout 0 (default: no hibernation);"
    bench_record imap-idle-mem "$pr" "$ir" KiB/conn lower "VmRSS sum, $what"
    bench_record imap-idle-mem-pss "$pp" "$ip" KiB/conn lower "Pss sum (shared pages split);$NOTE"
}

# mib KIB: KiB as MiB with one decimal.
mib() { awk "BEGIN { printf \"%.1f\", $1 / 1024 }"; }

load_imap_10k() {
    local n=$IMAP_10K_CONNS users=$IMAP_10K_USERS nofile pss=failed rss=failed ok=failed
    local why="not run: Dovecot serves one IMAP session per process (its cost per session is imap-idle-mem's)"
    NOTE=""
    nofile=$(ulimit -Sn)
    if ! ph_ready imapd; then
        pss=skipped rss=skipped ok=skipped
    elif [ "$nofile" -lt $((n + 2000)) ]; then
        NOTE="$NOTE RLIMIT_NOFILE $nofile (hard $(ulimit -Hn)) is too low for $n sessions;"
    elif imap_fill ph "$((25 + PH_OFFSET))" "$(ph_maildir "")" "$users" && ph_stop && ph_start
    then
        imap_idle_opts "$users"
        idle_side posthorn "$n" "$((143 + PH_OFFSET))" "$(ph_master_pid)" "$PH_BIN" \
            "$PH_DIR/etc" "${IDLE_OPTS[@]}" --inflight 100 --settle 60 \
            --timeout $((300 + n / 2))
        # The NOOP count is reported even when not every session made it (how many did).
        ok=$(kv answered "$IDLE_OUT")
        ok=${ok:-failed}
        if [ "$PSS" != failed ]; then
            pss=$(mib "$(kv pss_after "$IDLE_OUT")") rss=$(mib "$(kv rss_after "$IDLE_OUT")")
            NOTE="$NOTE $(printf '%.1f' "$PSS") KiB PSS, $(printf '%.1f' "$RSS") KiB RSS per session;"
        fi
        NOTE="$NOTE $(kv ready "$IDLE_OUT") of $n idle, $(kv open "$IDLE_OUT") open when measured,"
        NOTE="$NOTE $(kv reidles "$IDLE_OUT") re-IDLEs; $(top_groups imapd-mailbox imapd master);"
    fi
    local what="$n IMAP sessions in IDLE on one Posthorn instance ($IMAP_PER_USER per user over $users users, INBOX of $IMAP_IDLE_MESSAGES messages), RLIMIT_NOFILE $nofile for the instance and the loader;"
    bench_record imap-10k "$pss" skipped MiB lower "Pss sum of the whole instance with the sessions open; $what$NOTE"
    bench_record imap-10k-rss "$rss" skipped MiB lower "VmRSS sum (same run); incumbent $why"
    bench_record imap-10k-noop "$ok" skipped sessions higher "sessions that answered DONE and NOOP with OK after the measurement, of $n"
}
