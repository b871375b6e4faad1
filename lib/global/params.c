/* params.c - every main.cf parameter: the tables (one X-macro list per table,
 * params_TABLE.def), the old names still accepted, and lookups by name. Read-only data:
 * safe from any thread. `posthorn conf -d` prints the tables in this order, config_validate()
 * checks values against them, and daemons read values through config.h with PARAM(name).
 * Add a parameter to the table of the program that uses it (params_core.def when several
 * share it); rename one by moving its row and adding {old, new} to param_aliases. */
#include "config.h"
#include <limits.h>
#include <string.h>

#define DAY 86400LL
#define GB (1024LL * 1024 * 1024)

/* Each PARAM_<TYPE> row of a .def file becomes one struct param_def. */
#define PARAM_STR(n, d, doc) {#n, PT_STR, d, 0, 0, NULL, doc},
#define PARAM_LIST(n, d, doc) {#n, PT_LIST, d, 0, 0, NULL, doc},
#define PARAM_BOOL(n, d, doc) {#n, PT_BOOL, d, 0, 0, NULL, doc},
#define PARAM_INT(n, d, lo, hi, doc) {#n, PT_INT, d, lo, hi, NULL, doc},
#define PARAM_TIME(n, d, lo, hi, doc) {#n, PT_TIME, d, lo, hi, NULL, doc},
#define PARAM_SIZE(n, d, lo, hi, doc) {#n, PT_SIZE, d, lo, hi, NULL, doc},
#define PARAM_ENUM(n, d, c, doc) {#n, PT_ENUM, d, 0, 0, c, doc},
#define PARAM_NETS(n, d, doc) {#n, PT_NETS, d, 0, 0, NULL, doc},

static const struct param_def core_rows[] = {
#include "params_core.def"
};
static const struct param_def smtpd_rows[] = {
#include "params_smtpd.def"
};
static const struct param_def submission_rows[] = {
#include "params_submission.def"
};
static const struct param_def qmgr_rows[] = {
#include "params_qmgr.def"
};
static const struct param_def smtp_rows[] = {
#include "params_smtp.def"
};
static const struct param_def local_rows[] = {
#include "params_local.def"
};
static const struct param_def pop3d_rows[] = {
#include "params_pop3d.def"
};
static const struct param_def imapd_rows[] = {
#include "params_imapd.def"
};
static const struct param_def dkim_rows[] = {
#include "params_dkim.def"
};
static const struct param_def showq_rows[] = {
#include "params_showq.def"
};
static const struct param_def master_rows[] = {
#include "params_master.def"
};

#define TABLE(name, title, rows) {name, title, rows, sizeof rows / sizeof rows[0]}

const struct param_table param_tables[] = {
    TABLE("core", "instance layout, identities, shared limits, logging, login processes", core_rows),
    TABLE("smtpd", "the SMTP server (smtpd and submission)", smtpd_rows),
    TABLE("submission", "message submission (587, 465)", submission_rows),
    TABLE("qmgr", "the queue manager", qmgr_rows),
    TABLE("smtp", "the SMTP client (smtp-client)", smtp_rows),
    TABLE("local", "local delivery (local-mda)", local_rows),
    TABLE("pop3d", "the POP3 server", pop3d_rows),
    TABLE("imapd", "the IMAP server", imapd_rows),
    TABLE("dkim", "DKIM signing (dkim-signer and its clients)", dkim_rows),
    TABLE("showq", "the queue listing service (showq, mailq)", showq_rows),
    TABLE("master", "the supervisor", master_rows),
};
const size_t param_tables_len = sizeof param_tables / sizeof param_tables[0];

/* Old names, still accepted in main.cf and master.cf -o with a warning naming the new one. */
const struct param_alias param_aliases[] = {
    {"pop3_mailbox_service", "pop3d_mailbox_service"},
    {"pop3_allow_plaintext_auth", "login_allow_plaintext_auth"},
    {"pop3_default_domain", "login_default_domain"},
    {"pop3_login_timeout", "login_timeout"},
    {"auth_failure_delay", "login_failure_delay"},
    {"auth_max_failures", "login_max_failures"},
    {"pop3_idle_timeout", "pop3d_idle_timeout"},
    {"pop3_line_length_limit", "pop3d_line_length_limit"},
    {"pop3_error_limit", "pop3d_error_limit"},
    {"pop3_process_session_limit", "pop3d_process_session_limit"},
};
const size_t param_aliases_len = sizeof param_aliases / sizeof param_aliases[0];

/* PARAM(name) points into this: one char array per parameter, spelled as its name. */
#undef PARAM_STR
#undef PARAM_LIST
#undef PARAM_BOOL
#undef PARAM_INT
#undef PARAM_TIME
#undef PARAM_SIZE
#undef PARAM_ENUM
#undef PARAM_NETS
#define PARAM_NAME_INIT(n, ...) .n = #n,
#define PARAM_STR PARAM_NAME_INIT
#define PARAM_LIST PARAM_NAME_INIT
#define PARAM_BOOL PARAM_NAME_INIT
#define PARAM_INT PARAM_NAME_INIT
#define PARAM_TIME PARAM_NAME_INIT
#define PARAM_SIZE PARAM_NAME_INIT
#define PARAM_ENUM PARAM_NAME_INIT
#define PARAM_NETS PARAM_NAME_INIT
const struct param_names param_names = {
#include "params_all.def"
};

const char *param_type_name(enum param_type t)
{
    static const char *const names[] = {"text", "integer", "yes/no", "time", "size", "list", "one of",
                                        "networks"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

const struct param_def *param_find(const char *name)
{
    for (size_t t = 0; t < param_tables_len; t++)
        for (size_t i = 0; i < param_tables[t].len; i++)
            if (strcmp(param_tables[t].rows[i].name, name) == 0)
                return &param_tables[t].rows[i];
    return NULL;
}

const struct param_table *param_table_of(const struct param_def *p)
{
    for (size_t t = 0; t < param_tables_len; t++)
        if (p >= param_tables[t].rows && p < param_tables[t].rows + param_tables[t].len)
            return &param_tables[t];
    return NULL;
}

const char *param_renamed(const char *name)
{
    for (size_t i = 0; i < param_aliases_len; i++)
        if (strcmp(param_aliases[i].old_name, name) == 0)
            return param_aliases[i].new_name;
    return NULL;
}
