#!/bin/bash
# bench/lib/install.sh: install the incumbent side of the benchmark (Debian packages postfix,
# which brings smtp-source and smtp-sink, dovecot-pop3d, dovecot-imapd) without leaving a
# system Postfix or Dovecot running.
# Postfix is preseeded to "No configuration" so the package writes no main.cf and starts no
# daemon on port 25; any system service the packages started anyway is stopped afterwards.
# Sourced by bench/run; defines bench_install.
set -u

bench_need_pkgs() {
    local missing=()
    [ -x /usr/sbin/postfix ] || missing+=(postfix)
    [ -x /usr/sbin/smtp-source ] || missing+=(postfix)
    [ -x /usr/sbin/smtp-sink ] || missing+=(postfix)
    [ -x /usr/sbin/dovecot ] || missing+=(dovecot-core)
    [ -e /usr/lib/dovecot/pop3 ] || missing+=(dovecot-pop3d)
    [ -e /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
    command -v cc >/dev/null || missing+=(gcc)
    command -v cmake >/dev/null || missing+=(cmake)
    command -v python3 >/dev/null || missing+=(python3)
    command -v openssl >/dev/null || missing+=(openssl)   # the submission loads' certificate
    printf '%s\n' "${missing[@]}" | sort -u | grep -v '^$' || true
}

bench_stop_system_services() {
    # No systemd here: the packages' init scripts may have started daemons on the system
    # config. Stop them by their pid files (never by name) so nothing listens on 25/110/143.
    if [ -x /etc/init.d/postfix ] && [ -e /var/spool/postfix/pid/master.pid ]; then
        /usr/sbin/postfix stop >/dev/null 2>&1 || true
    fi
    if [ -e /run/dovecot/master.pid ]; then
        /usr/sbin/dovecot stop >/dev/null 2>&1 || true
    fi
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now postfix dovecot >/dev/null 2>&1 || true
    fi
}

bench_install() {
    local pkgs
    pkgs=$(bench_need_pkgs)
    if [ -n "$pkgs" ]; then
        echo "bench: installing: $(echo $pkgs)" >&2
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        apt-get update -qq >/dev/null || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            $pkgs >/dev/null || { echo "bench: apt-get install failed" >&2; return 1; }
    fi
    bench_stop_system_services
    [ -x /usr/sbin/smtp-source ] || { echo "bench: smtp-source missing" >&2; return 1; }
    return 0
}
