#!/bin/bash
# bench/lib/postfix.sh: the incumbent MTA for the benchmark, a private Postfix instance
# (Debian's postfix package) in $BENCH_TMP/postfix with its own config_directory,
# queue_directory, data_directory and mail base, listening only on 127.0.0.1: smtpd on
# $PF_PORT, a submission service (STARTTLS required, SASL AUTH through the private
# Dovecot's auth socket) on $PF_SUB_PORT and the same with TLS from the first byte on
# $PF_SUBS_PORT; delivering bench.test users to Maildir with virtual(8), everything else
# to the relay host 127.0.0.1:$SINK_PORT (the smtp-relay load's sink), logging to a file
# (postlogd). Durability is Postfix's default and is never turned down: cleanup(8) fsyncs
# the queue file before smtpd answers 250, virtual(8) fsyncs the Maildir file before
# renaming it into new/. Sourced by bench/run; needs BENCH_TMP, PF_PORT, PF_SUB_PORT,
# PF_SUBS_PORT, SINK_PORT, BENCH_DOMAIN, BENCH_CERT, BENCH_KEY, BENCH_SASL_SOCKET,
# BENCH_RELAY_CONCURRENCY.
set -u

PF_DIR=""   # instance root, set by pf_setup

pf_conf() { echo "$PF_DIR/etc"; }
pf_maildir() { echo "$PF_DIR/mail/$BENCH_DOMAIN/$1"; }   # $1 = local part
pf_master_pid() { head -1 "$PF_DIR/spool/pid/master.pid" 2>/dev/null | tr -d ' '; }

# The services a receive-and-deliver-locally Postfix needs, plus submission on two ports
# (as a hosting provider runs it: TLS required, SASL AUTH, only authenticated clients may
# send, and only as their own address) and tlsmgr for them; chroot off (the Debian
# default chroot needs copies of /etc files in the spool). postlog makes maillog_file work.
pf_write_master_cf() {
    local sub="-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes
  -o smtpd_sender_restrictions=reject_sender_login_mismatch
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject"
    cat > "$PF_DIR/etc/master.cf" <<EOF
# master.cf of the benchmark's private Postfix instance (written by bench/lib/postfix.sh)
127.0.0.1:$PF_PORT inet n - n - - smtpd
127.0.0.1:$PF_SUB_PORT inet n - n - - smtpd
  -o syslog_name=postfix-bench/submission -o smtpd_tls_security_level=encrypt
  $sub
127.0.0.1:$PF_SUBS_PORT inet n - n - - smtpd
  -o syslog_name=postfix-bench/submissions -o smtpd_tls_wrappermode=yes
  $sub
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

pf_write_main_cf() {
    cat > "$PF_DIR/etc/main.cf" <<EOF
# main.cf of the benchmark's private Postfix instance (written by bench/lib/postfix.sh).
# Only paths, addresses, the test domain and two limits differ from Debian's defaults;
# syncing is Postfix's default (queue file and Maildir file fsynced).
compatibility_level = 3.6
queue_directory = $PF_DIR/spool
data_directory = $PF_DIR/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-bench
maillog_file_prefixes = $PF_DIR
maillog_file = $PF_DIR/log/maillog
myhostname = pf.$BENCH_DOMAIN
mydomain = $BENCH_DOMAIN
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
append_dot_mydomain = no
biff = no
smtputf8_enable = yes
# No DNS anywhere: loopback benchmark.
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
# Maildir delivery with virtual(8): the trailing slash in vmailbox selects Maildir.
virtual_mailbox_domains = $BENCH_DOMAIN
virtual_mailbox_base = $PF_DIR/mail
virtual_mailbox_maps = hash:$PF_DIR/etc/vmailbox
virtual_uid_maps = static:$BENCH_VUID
virtual_gid_maps = static:$BENCH_VGID
# Raised for the idle-mem load (1,000 idle sessions need 1,000 smtpd processes; default 100)
# and so that every session from 127.0.0.1 is admitted (Posthorn gets the same setting).
default_process_limit = $((BENCH_IDLE_CONNS + 100))
smtpd_client_connection_count_limit = 0
# Submission (the submission and smtp-relay loads): the certificate Posthorn uses too, TLS
# 1.3 only; SASL through the private Dovecot's auth socket; senders as Posthorn allows them
# (each login its own address), for reject_sender_login_mismatch in master.cf. Port 25
# stays without TLS and AUTH (smtpd_tls_security_level and smtpd_sasl_auth_enable are
# set only for the submission services).
smtpd_tls_cert_file = $BENCH_CERT
smtpd_tls_key_file = $BENCH_KEY
smtpd_tls_protocols = >=TLSv1.3
smtpd_tls_mandatory_protocols = >=TLSv1.3
smtpd_sasl_type = dovecot
smtpd_sasl_path = $BENCH_SASL_SOCKET
smtpd_sender_login_maps = hash:$PF_DIR/etc/senders
# Everything not for bench.test leaves through the sink of the smtp-relay load, in
# plaintext (smtp-sink has no TLS; Posthorn's smtp client is set to none too), with the
# same concurrency limit as Posthorn's (Postfix's default, 20, written out).
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = none
default_destination_concurrency_limit = $BENCH_RELAY_CONCURRENCY
smtp_destination_concurrency_limit = $BENCH_RELAY_CONCURRENCY
EOF
}

# pf_setup USER...: create the instance with a Maildir user per argument.
pf_setup() {
    PF_DIR="$BENCH_TMP/postfix"
    mkdir -p "$PF_DIR/etc" "$PF_DIR/spool" "$PF_DIR/data" "$PF_DIR/log" "$PF_DIR/mail"
    chown "$BENCH_VUID:$BENCH_VGID" "$PF_DIR/mail"
    chown postfix "$PF_DIR/data"
    pf_write_main_cf
    pf_write_master_cf
    : > "$PF_DIR/etc/vmailbox"
    : > "$PF_DIR/etc/senders"
    local u
    for u in "$@"; do
        echo "$u@$BENCH_DOMAIN $BENCH_DOMAIN/$u/" >> "$PF_DIR/etc/vmailbox"
        echo "$u@$BENCH_DOMAIN $u@$BENCH_DOMAIN" >> "$PF_DIR/etc/senders"
    done
    postmap -c "$PF_DIR/etc" "hash:$PF_DIR/etc/vmailbox" || return 1
    postmap -c "$PF_DIR/etc" "hash:$PF_DIR/etc/senders" || return 1
    # Create the queue subdirectories with Postfix's own ownership and modes.
    postfix -c "$PF_DIR/etc" set-permissions >/dev/null 2>&1 ||
        /usr/lib/postfix/sbin/post-install config_directory="$PF_DIR/etc" \
            queue_directory="$PF_DIR/spool" create-missing >/dev/null 2>&1
    postfix -c "$PF_DIR/etc" check || return 1
}

pf_start() {
    postfix -c "$PF_DIR/etc" start >/dev/null 2>&1 || {
        echo "bench: postfix start failed:" >&2
        tail -20 "$PF_DIR/log/maillog" >&2 2>/dev/null
        return 1
    }
    bench_wait_port "$PF_PORT" 20 || { echo "bench: postfix not listening" >&2; return 1; }
}

pf_stop() {
    [ -n "$PF_DIR" ] && [ -e "$PF_DIR/etc/main.cf" ] || return 0
    local pid
    pid=$(pf_master_pid)
    postfix -c "$PF_DIR/etc" stop >/dev/null 2>&1 || true
    bench_wait_gone "$pid" 20
}

# Messages still in the Postfix queue (incoming, active, deferred, maildrop).
pf_queue_count() {
    find "$PF_DIR/spool/incoming" "$PF_DIR/spool/active" "$PF_DIR/spool/deferred" \
        "$PF_DIR/spool/maildrop" -type f 2>/dev/null | wc -l
}
