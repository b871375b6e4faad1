/* params.c - the one table of every main.cf parameter: name, type, default, bounds, doc.
 * `posthorn conf -d` prints it, config_validate() checks against it, and daemons read
 * values through config.h. Add a parameter here, in the section of the daemon that uses it. */
#include "config.h"
#include <limits.h>

#define STR(n, d, doc) {n, PT_STR, d, 0, 0, NULL, doc}
#define LIST(n, d, doc) {n, PT_LIST, d, 0, 0, NULL, doc}
#define BOOL(n, d, doc) {n, PT_BOOL, d, 0, 0, NULL, doc}
#define INT(n, d, lo, hi, doc) {n, PT_INT, d, lo, hi, NULL, doc}
#define TIME(n, d, lo, hi, doc) {n, PT_TIME, d, lo, hi, NULL, doc}
#define SIZE(n, d, lo, hi, doc) {n, PT_SIZE, d, lo, hi, NULL, doc}
#define ENUM(n, d, c, doc) {n, PT_ENUM, d, 0, 0, c, doc}
#define DAY 86400LL
#define GB (1024LL * 1024 * 1024)

const struct param_def param_table[] = {
    /* --- instance layout and identities --- */
    STR("config_directory", "/etc/posthorn", "Directory with main.cf and master.cf (set by -c or POSTHORN_CONFIG)."),
    STR("queue_directory", "/var/spool/posthorn", "The spool: incoming, active, deferred, hold, corrupt, private, public, pid."),
    STR("data_directory", "/var/lib/posthorn", "Writable state: the account database and other LMDB files."),
    STR("daemon_directory", POSTHORN_LIBEXEC_DEFAULT, "Where master finds the daemon programs."),
    STR("mail_owner", "posthorn", "System user of the queue and of the network-facing daemons."),
    STR("vmail_owner", "vmail", "System user that owns the mailboxes; local-mda and post-login processes run as it."),
    STR("myhostname", "", "This host's fully qualified name (default: the system hostname)."),
    STR("mydomain", "$myhostname", "This host's domain, used for $myorigin."),
    STR("myorigin", "$myhostname", "Domain appended to unqualified addresses."),
    STR("account_database", "$data_directory/accounts.lmdb", "LMDB file holding virtual users and domains (posthorn user/domain)."),
    LIST("virtual_mailbox_domains", "", "Domains whose users live in virtual_mailbox_base, besides those added with posthorn domain add."),
    STR("virtual_mailbox_base", "/var/mail/vhosts", "Root of the mail store: DOMAIN/LOCALPART/ is a Maildir++ with its index."),
    LIST("alias_maps", "lmdb:$config_directory/aliases", "Alias tables (built with posthorn map build / newaliases)."),
    STR("postmaster_recipient", "", "Where postmaster@ each of our domains goes when that domain has no postmaster user or alias (RFC 5321 sec 4.5.1)."),
    STR("recipient_delimiter", "+", "Characters that separate an address extension (user+tag@domain); empty disables."),
    SIZE("virtual_mailbox_quota", "0", 0, 1LL << 50, "Default per-user mailbox quota in bytes; 0 means unlimited. Per-user values override it."),
    INT("alias_expansion_limit", "1000", 1, 100000, "Most addresses one alias may expand to."),
    INT("alias_recursion_limit", "16", 1, 1000, "Deepest nesting of aliases before delivery fails as a loop."),
    /* --- logging --- */
    STR("maillog_file", "", "Append log lines to this file instead of syslog (facility mail)."),
    BOOL("debug_log", "no", "Log protocol details (never passwords)."),
    /* --- smtpd --- */
    STR("smtpd_banner", "$myhostname ESMTP Posthorn", "Text of the 220 greeting after the code."),
    SIZE("message_size_limit", "10240000", 1024, 4 * GB, "Largest message accepted, in bytes (announced in SIZE)."),
    INT("smtpd_recipient_limit", "1000", 1, 1000000, "Most recipients accepted per message (452 4.5.3 beyond)."),
    INT("smtpd_line_length_limit", "2048", 512, 1000000, "Longest SMTP command line accepted (500 5.5.0 beyond)."),
    INT("smtpd_soft_error_limit", "10", 0, 10000, "Errors after which each reply is delayed by smtpd_error_sleep_time."),
    INT("smtpd_hard_error_limit", "20", 1, 10000, "Errors after which the session is closed (421)."),
    TIME("smtpd_error_sleep_time", "1s", 0, 60, "Delay before replying once the soft error limit is passed."),
    TIME("smtpd_timeout", "300s", 1, 3600, "Idle time after which a session is closed (421 4.4.2)."),
    INT("smtpd_client_connection_count_limit", "50", 0, 100000, "Most simultaneous sessions per client address per smtpd process; 0 means unlimited."),
    INT("smtpd_process_connection_limit", "2000", 1, 1000000, "Most sessions one smtpd process serves at once."),
    ENUM("smtpd_forbid_bare_newline", "normalize", "normalize|reject|no",
         "Bare LF: normalize (treat as line end, never as end of DATA), reject (521 and close), no (accept as-is)."),
    STR("smtpd_tls_cert_file", "", "PEM certificate chain for STARTTLS and implicit TLS."),
    STR("smtpd_tls_key_file", "$smtpd_tls_cert_file", "PEM private key for smtpd_tls_cert_file."),
    ENUM("smtpd_tls_security_level", "may", "none|may|encrypt", "none: no STARTTLS; may: offer it; encrypt: require it before MAIL."),
    ENUM("smtpd_tls_protocols_min", "TLSv1.2", "TLSv1.2|TLSv1.3", "Lowest TLS version offered."),
    BOOL("smtpd_received_header", "yes", "Prepend a Received: header to each message."),
    SIZE("queue_minfree", "0", 0, 1LL << 50, "Free space the spool file system must keep; smtpd answers MAIL with 452 4.3.1 below it (plus the SIZE declared). 0 means 1.5 x message_size_limit."),
    /* --- queue manager --- */
    TIME("queue_run_delay", "300s", 1, DAY, "How often qmgr rescans the deferred queue (and the incoming queue for lost notifications)."),
    TIME("minimal_backoff_time", "300s", 1, DAY, "First retry delay after a temporary failure."),
    TIME("maximal_backoff_time", "4000s", 1, 7 * DAY, "Longest retry delay; each retry doubles the previous delay up to this."),
    TIME("maximal_queue_lifetime", "5d", 0, 100 * DAY, "Age after which a message that still fails temporarily is bounced."),
    TIME("bounce_queue_lifetime", "5d", 0, 100 * DAY, "Same as maximal_queue_lifetime for bounces (null sender)."),
    INT("qmgr_message_active_limit", "20000", 1, 10000000, "Most messages in the active queue at once."),
    INT("default_destination_concurrency_limit", "20", 1, 1000, "Most parallel delivery requests of the smtp transport (and future remote transports)."),
    INT("local_destination_concurrency_limit", "4", 1, 1000, "Most parallel local deliveries."),
    INT("default_destination_recipient_limit", "50", 1, 100000, "Most recipients in one delivery request."),
    STR("bounce_notice_sender", "MAILER-DAEMON", "Local part of the From: address of delivery status notifications (LOCALPART@$myhostname)."),
    SIZE("bounce_size_limit", "50000", 1024, 100LL * 1024 * 1024, "Largest original message returned whole in a non-delivery notification; larger ones come back as headers only."),
    TIME("qmgr_ipc_timeout", "3600s", 10, DAY, "Longest wait for a delivery agent's answer to one request; then its recipients are deferred."),
    /* --- local delivery --- */
    STR("mailbox_index_name", "posthorn-index.lmdb", "File name of the LMDB index beside each Maildir."),
    TIME("local_idle_timeout", "10s", 1, 3600, "How long local-mda waits for the next request on a qmgr connection before closing it (it serves one connection at a time)."),
    /* --- pop3d --- */
    ENUM("pop3_role", "login", "login|mailbox", "Part of pop3d a service runs: login (network side, mail_owner) or mailbox (post-login, vmail_owner); set only with -o in master.cf."),
    STR("pop3_mailbox_service", "pop3-mailbox", "master.cf name of the post-login service (socket in SPOOL/private) that pop3d's login part hands sessions to."),
    BOOL("pop3d_tls_wrappermode", "no", "Speak TLS from the first byte (POP3S, port 995) instead of offering STLS."),
    STR("pop3d_tls_cert_file", "$smtpd_tls_cert_file", "PEM certificate chain for STLS and POP3S."),
    STR("pop3d_tls_key_file", "$smtpd_tls_key_file", "PEM private key for pop3d_tls_cert_file."),
    ENUM("pop3d_tls_protocols_min", "TLSv1.2", "TLSv1.2|TLSv1.3", "Lowest TLS version pop3d offers."),
    BOOL("pop3_allow_plaintext_auth", "no", "Allow USER/PASS and AUTH on connections without TLS (otherwise refused until STLS)."),
    STR("pop3_default_domain", "", "Domain appended to a login name without '@'; empty: users log in with their full address."),
    STR("login_greeting", "Posthorn ready.", "Text after +OK in the greeting of the POP3 login process."),
    TIME("auth_failure_delay", "2s", 0, 60, "Delay before the reply to a failed login (a timer; other sessions go on)."),
    INT("auth_max_failures", "10", 1, 100000, "Failed logins from one client address (per login process) after which its sessions are closed; a successful login clears the count."),
    TIME("pop3_login_timeout", "60s", 1, 3600, "Time a POP3 client has from connecting to logging in."),
    TIME("pop3_idle_timeout", "600s", 1, DAY, "Idle time after which a logged-in POP3 session ends without UPDATE (RFC 1939 asks for at least 10 minutes)."),
    INT("pop3_line_length_limit", "4096", 256, 1000000, "Longest POP3 command line or SASL response accepted (-ERR beyond)."),
    INT("pop3_error_limit", "20", 1, 10000, "Protocol errors after which a POP3 session is closed."),
    INT("pop3_process_session_limit", "2000", 1, 1000000, "Most POP3 sessions one pop3d process serves at once."),
    /* --- master --- */
    INT("default_process_limit", "100", 1, 100000, "Upper bound of maxproc for master.cf entries that say '-' (those get one process per CPU)."),
    TIME("service_restart_delay", "1s", 0, 3600, "First delay before restarting a service that died; doubles while it keeps dying."),
    TIME("service_throttle_time", "60s", 1, 3600, "Longest delay between restarts of a service that keeps dying."),
};

const size_t param_table_len = sizeof param_table / sizeof param_table[0];
