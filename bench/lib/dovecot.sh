#!/bin/bash
# bench/lib/dovecot.sh: the incumbent mailbox server for the benchmark, a private Dovecot
# (Debian's dovecot-core, -pop3d, -imapd) in $BENCH_TMP/dovecot with its own config file,
# base_dir, logs and index directory, listening only on 127.0.0.1 ($DV_POP3_PORT,
# $DV_IMAP_PORT), serving the Maildirs the private Postfix delivered
# ($PF_DIR/mail/DOMAIN/USER). Indexes and control files live outside the Maildirs.
# Passwords use the same scheme as Posthorn's ({ARGON2ID}). Its auth service also listens
# on dv_sasl_socket for the private Postfix's submission (smtpd_sasl_type = dovecot).
# Dovecot's defaults otherwise (one login process per connection, one imap process per
# session, no auth cache), except the IMAP limits dv_setup raises for the IMAP loads.
# Sourced by bench/run.
set -u

DV_DIR=""

# The auth socket the private Postfix asks (its smtpd_sasl_path), in base_dir.
dv_sasl_socket() { echo "$BENCH_TMP/dovecot/run/auth-postfix"; }

dv_master_pid() { head -1 "$DV_DIR/run/master.pid" 2>/dev/null | tr -d ' '; }

dv_write_conf() {
    cat > "$DV_DIR/dovecot.conf" <<EOF
# dovecot.conf of the benchmark's private Dovecot (written by bench/lib/dovecot.sh)
instance_name = dovecot-bench
base_dir = $DV_DIR/run
state_dir = $DV_DIR/state
log_path = $DV_DIR/log/dovecot.log
info_log_path = $DV_DIR/log/dovecot.info
listen = 127.0.0.1
protocols = pop3 imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:$PF_DIR/mail/%d/%n:INDEX=$DV_DIR/index/%d/%n:CONTROL=$DV_DIR/index/%d/%n
passdb {
  driver = passwd-file
  args = scheme=ARGON2ID username_format=%u $DV_DIR/passwd
}
userdb {
  driver = static
  args = uid=$BENCH_VUID gid=$BENCH_VGID home=$DV_DIR/home/%d/%n
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DV_POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
protocol imap {
  mail_max_userip_connections = $DV_IMAP_USERIP
}
service imap {
  process_limit = $DV_IMAP_PROCS
}
default_client_limit = $DV_CLIENT_LIMIT
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DV_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service auth {
  unix_listener $(basename "$(dv_sasl_socket)") {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0600
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
EOF
}

# dv_setup "USER:HASH"...: HASH is a "{ARGON2ID}..." string for USER@DOMAIN.
# BENCH_IMAP_IDLE_CONNS (IMAP sessions held at once by the idle load, 0 for none) raises
# Dovecot's limits that would refuse them (one imap process per session); the defaults stay
# otherwise.
dv_setup() {
    DV_DIR="$BENCH_TMP/dovecot"
    local n=${BENCH_IMAP_IDLE_CONNS:-0}
    DV_IMAP_PROCS=$((n + 100 > 1024 ? n + 100 : 1024))   # Dovecot's default: 1024
    DV_CLIENT_LIMIT=$((2 * DV_IMAP_PROCS > 1000 ? 2 * DV_IMAP_PROCS : 1000))   # default: 1000
    # Per user and address (default 10): imaptest's clients of one user reconnect while
    # their previous session is still ending; Posthorn has no such limit.
    DV_IMAP_USERIP=100
    mkdir -p "$DV_DIR/run" "$DV_DIR/state" "$DV_DIR/log" "$DV_DIR/index" "$DV_DIR/home"
    chown "$BENCH_VUID:$BENCH_VGID" "$DV_DIR/index" "$DV_DIR/home"
    : > "$DV_DIR/passwd"
    local pair
    for pair in "$@"; do
        echo "${pair%%:*}@$BENCH_DOMAIN:${pair#*:}" >> "$DV_DIR/passwd"
    done
    chmod 0640 "$DV_DIR/passwd"
    chgrp dovecot "$DV_DIR/passwd"
    dv_write_conf
    dovecot -c "$DV_DIR/dovecot.conf" -n >/dev/null 2>"$DV_DIR/log/config.err" || {
        echo "bench: dovecot config rejected:" >&2
        cat "$DV_DIR/log/config.err" >&2
        return 1
    }
}

dv_start() {
    dovecot -c "$DV_DIR/dovecot.conf" || return 1
    bench_wait_port "$DV_POP3_PORT" 20 || {
        echo "bench: dovecot not listening:" >&2
        tail -5 "$DV_DIR/log/dovecot.log" >&2 2>/dev/null
        return 1
    }
}

dv_stop() {
    [ -n "$DV_DIR" ] && [ -e "$DV_DIR/dovecot.conf" ] || return 0
    local pid
    pid=$(dv_master_pid)
    [ -n "$pid" ] || return 0
    doveadm -c "$DV_DIR/dovecot.conf" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    bench_wait_gone "$pid" 20
}
