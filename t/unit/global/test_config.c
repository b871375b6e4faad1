/* test_config.c - cmocka tests of lib/global/config.c, lib/global/config_edit.c and lib/global/mastercf.c:
 * main.cf syntax (continuation lines, comments, bad lines), $name/${name} expansion with
 * its recursion bound, unknown names warned with file:line, typed values and bounds with
 * file:line, overrides, config_edit_file keeping comments; master.cf good and bad lines. */
#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "errlist.h"
#include "fileio.h"
#include "log.h"
#include "mastercf.h"

static char dir[] = "/tmp/posthorn-test-config-XXXXXX";

static int setup(void **state)
{
    log_init("test_config", "-");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char *files[] = {"main.cf", "master.cf", "edit.cf"};
    for (size_t i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    return rmdir(dir);
}

static char *path_of(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void write_text(const char *name, const char *text)
{
    FILE *f = fopen(path_of(name), "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* NOTE: path_of returns a static buffer, valid until the next call. */

/* Load main.cf from text; errs collects the problems. */
static struct config *load(const char *text, struct errlist *errs)
{
    write_text("main.cf", text);
    struct config *cfg = config_load(dir, errs);
    assert_non_null(cfg);
    return cfg;
}

/* Does some message contain both needles? */
static bool has_msg(const struct errlist *e, const char *a, const char *b)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msgs[i], a) && (!b || strstr(e->msgs[i], b)))
            return true;
    return false;
}

static void test_continuation_and_comments(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = load("# a comment\n"
                              "\n"
                              "myhostname = mail.example.test\n"
                              "smtpd_banner = one\n"
                              "    two\n"
                              "# a comment inside does not end the value\n"
                              "\tthree\n"
                              "mydomain=example.test   \n"
                              "  # indented comment\n",
                              &errs);
    assert_int_equal(errs.n, 0);
    assert_string_equal(config_str(cfg, "myhostname"), "mail.example.test");
    assert_string_equal(config_str(cfg, "smtpd_banner"), "one two three");
    assert_string_equal(config_str(cfg, "mydomain"), "example.test");
    assert_string_equal(config_origin(cfg, "smtpd_banner"), path_of("main.cf:4"));
    config_free(cfg);
}

static void test_origin_names_file_and_line(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = load("\n\nmyhostname = h.example\n", &errs);
    char want[300];
    snprintf(want, sizeof want, "%s/main.cf:3", dir);
    assert_string_equal(config_origin(cfg, "myhostname"), want);
    assert_null(config_origin(cfg, "mydomain"));
    config_free(cfg);
    errlist_free(&errs);
}

static void test_syntax_errors(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = load("  leading continuation\n"
                              "no equals sign here\n"
                              "bad-name = x\n"
                              "myhostname = ok.example\n",
                              &errs);
    assert_int_equal(errlist_errors(&errs), 3);
    assert_true(has_msg(&errs, "main.cf:1:", "continuation"));
    assert_true(has_msg(&errs, "main.cf:2:", "'='"));
    assert_true(has_msg(&errs, "main.cf:3:", "bad-name"));
    assert_string_equal(config_str(cfg, "myhostname"), "ok.example");
    config_free(cfg);
    errlist_free(&errs);
}

static void test_missing_file(void **state)
{
    struct errlist errs = {0};
    assert_null(config_load("/nonexistent/posthorn", &errs));
    assert_int_equal(errlist_errors(&errs), 1);
    assert_true(has_msg(&errs, "/nonexistent/posthorn/main.cf", "cannot open"));
    errlist_free(&errs);
}

static void test_expansion(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = load("myhostname = mail.example.test\n"
                              "mydomain = example.test\n"
                              "smtpd_banner = $myhostname ESMTP ${mydomain} $(mydomain) $$5 $undefined_x.\n"
                              "data_directory = /srv/$mydomain\n"
                              "local_a = [$local_b]\n"
                              "local_b = <$mydomain>\n",
                              &errs);
    assert_int_equal(errlist_errors(&errs), 0);
    assert_string_equal(config_str(cfg, "smtpd_banner"),
                        "mail.example.test ESMTP example.test example.test $5 .");
    /* nested: account_database defaults to $data_directory/accounts.lmdb */
    assert_string_equal(config_str(cfg, "account_database"), "/srv/example.test/accounts.lmdb");
    assert_string_equal(config_str(cfg, "local_a"), "[<example.test>]");
    /* the raw value stays unexpanded */
    bool set;
    assert_string_equal(config_raw(cfg, "data_directory", &set), "/srv/$mydomain");
    assert_true(set);
    assert_string_equal(config_raw(cfg, "queue_directory", &set), "/var/spool/posthorn");
    assert_false(set);
    config_free(cfg);
}

static void test_expansion_recursion_is_bounded(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = load("myhostname = $mydomain\n"
                              "mydomain = $myhostname\n"
                              "local_self = x$local_self\n"
                              "local_e1 = $local_e2$local_e2$local_e2$local_e2\n"
                              "local_e2 = $local_e3$local_e3$local_e3$local_e3\n"
                              "local_e3 = $local_e4$local_e4$local_e4$local_e4\n"
                              "local_e4 = $local_e5$local_e5$local_e5$local_e5\n"
                              "local_e5 = $local_e6$local_e6$local_e6$local_e6\n"
                              "local_e6 = 0123456789012345678901234567890123456789\n",
                              &errs);
    /* Cycles terminate with a finite (truncated) value instead of hanging or crashing. */
    assert_non_null(config_str(cfg, "myhostname"));
    const char *self = config_str(cfg, "local_self");
    assert_non_null(self);
    assert_true(strlen(self) < 100);
    assert_true(strncmp(self, "xxxx", 4) == 0);
    /* Exponential definitions stay bounded in size. */
    assert_true(strlen(config_str(cfg, "local_e1")) <= 128 * 1024);
    config_free(cfg);
    errlist_free(&errs);
}

static void test_unknown_name_warned_with_line(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = load("myhostname = a.example\n"
                              "\n"
                              "no_such_parameter = 1\n"
                              "local_custom = fine\n",
                              &errs);
    assert_int_equal(errlist_errors(&errs), 0);
    assert_int_equal(errs.warnings, 1);
    assert_true(has_msg(&errs, "warning: ", "main.cf:3:"));
    assert_true(has_msg(&errs, "no_such_parameter", NULL));
    /* local_* names are the user's own, for $expansion, and are not warned about */
    assert_false(has_msg(&errs, "local_custom", NULL));
    assert_string_equal(config_str(cfg, "local_custom"), "fine");
    config_free(cfg);
    errlist_free(&errs);
}

static void test_bad_values_with_line(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = load("message_size_limit = lots\n"      /* 1 SIZE */
                              "smtpd_timeout = 5000s\n"           /* 2 TIME above max */
                              "smtpd_recipient_limit = 12x\n"     /* 3 INT */
                              "debug_log = maybe\n"               /* 4 BOOL */
                              "smtpd_forbid_bare_newline = sometimes\n" /* 5 ENUM */
                              "queue_run_delay = 10q\n"           /* 6 TIME suffix */
                              "smtpd_line_length_limit = 100\n"   /* 7 INT below min */
                              "smtpd_hard_error_limit = 20\n",    /* 8 fine */
                              &errs);
    assert_int_equal(errlist_errors(&errs), 0); /* values are checked by config_validate */
    config_validate(cfg, &errs);
    assert_int_equal(errlist_errors(&errs), 7);
    assert_true(has_msg(&errs, "main.cf:1:", "message_size_limit"));
    assert_true(has_msg(&errs, "main.cf:2:", "out of range"));
    assert_true(has_msg(&errs, "main.cf:3:", "not a number"));
    assert_true(has_msg(&errs, "main.cf:4:", "yes or no"));
    assert_true(has_msg(&errs, "main.cf:5:", "normalize|reject|no"));
    assert_true(has_msg(&errs, "main.cf:6:", "queue_run_delay"));
    assert_true(has_msg(&errs, "main.cf:7:", "out of range"));
    assert_false(has_msg(&errs, "main.cf:8:", NULL));
    config_free(cfg);
    errlist_free(&errs);
}

static void test_typed_values(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = load("message_size_limit = 10m\n"
                              "smtpd_timeout = 5m\n"
                              "maximal_queue_lifetime = 2d\n"
                              "debug_log = on\n"
                              "smtpd_forbid_bare_newline = REJECT\n"
                              "virtual_mailbox_domains = a.example, b.example  c.example,d.example\n",
                              &errs);
    config_validate(cfg, &errs);
    assert_int_equal(errlist_errors(&errs), 0);
    assert_int_equal(config_int(cfg, "message_size_limit"), 10 * 1024 * 1024);
    assert_int_equal(config_int(cfg, "smtpd_timeout"), 300);
    assert_int_equal(config_int(cfg, "maximal_queue_lifetime"), 2 * 86400);
    assert_int_equal(config_int(cfg, "smtpd_recipient_limit"), 1000); /* default */
    assert_true(config_bool(cfg, "debug_log"));
    assert_true(config_bool(cfg, "smtpd_received_header"));
    size_t n;
    char **list = config_list(cfg, "virtual_mailbox_domains", &n);
    assert_int_equal(n, 4);
    assert_string_equal(list[0], "a.example");
    assert_string_equal(list[3], "d.example");
    assert_null(list[4]);
    config_list(cfg, "recipient_delimiter", &n);
    assert_int_equal(n, 1);
    config_free(cfg);
    errlist_free(&errs);
}

static void test_parse_helpers(void **state)
{
    static const struct { const char *in; bool ok; long long v; } times[] = {
        {"0", true, 0}, {"30", true, 30}, {"30s", true, 30}, {"2m", true, 120}, {"1h", true, 3600},
        {"1d", true, 86400}, {"1w", true, 604800}, {"", false, 0}, {"-1", false, 0},
        {"5x", false, 0}, {"5ms", false, 0}, {"m", false, 0}, {"99999999999999999999", false, 0}};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        long long v = -7;
        bool ok = config_parse_time(times[i].in, &v);
        if (ok != times[i].ok || (ok && v != times[i].v))
            fail_msg("time \"%s\": ok %d v %lld", times[i].in, ok, v);
    }
    static const struct { const char *in; bool ok; long long v; } sizes[] = {
        {"0", true, 0}, {"1024", true, 1024}, {"1k", true, 1024}, {"2K", true, 2048},
        {"10m", true, 10485760}, {"1g", true, 1073741824}, {"10mb", true, 10485760},
        {"", false, 0}, {"-5", false, 0}, {"1t", false, 0}, {"10mbx", false, 0}, {"k", false, 0}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        long long v = -7;
        bool ok = config_parse_size(sizes[i].in, &v);
        if (ok != sizes[i].ok || (ok && v != sizes[i].v))
            fail_msg("size \"%s\": ok %d v %lld", sizes[i].in, ok, v);
    }
    bool b;
    assert_true(config_parse_bool("yes", &b) && b);
    assert_true(config_parse_bool("TRUE", &b) && b);
    assert_true(config_parse_bool("0", &b) && !b);
    assert_true(config_parse_bool("off", &b) && !b);
    assert_false(config_parse_bool("", &b));
    assert_false(config_parse_bool("yess", &b));
}

static void test_override(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = load("myhostname = a.example\nsmtpd_banner = $myhostname hi\n", &errs);
    assert_string_equal(config_str(cfg, "smtpd_banner"), "a.example hi");
    assert_true(config_override(cfg, "myhostname = b.example", "master.cf:3", &errs));
    /* the cache is invalidated: dependants see the new value */
    assert_string_equal(config_str(cfg, "smtpd_banner"), "b.example hi");
    assert_string_equal(config_origin(cfg, "myhostname"), "master.cf:3");
    assert_false(config_override(cfg, "no_such_thing=1", "master.cf:4", &errs));
    assert_false(config_override(cfg, "myhostname", "master.cf:5", &errs));
    assert_true(has_msg(&errs, "master.cf:4:", "no_such_thing"));
    assert_true(has_msg(&errs, "master.cf:5:", "name=value"));
    config_free(cfg);
    errlist_free(&errs);
}

static void test_defaults_table(void **state)
{
    struct config *cfg = config_defaults("/etc/posthorn-test");
    assert_string_equal(config_str(cfg, "config_directory"), "/etc/posthorn-test");
    assert_string_equal(config_str(cfg, "alias_maps"), "lmdb:/etc/posthorn-test/aliases");
    struct errlist errs = {0};
    config_validate(cfg, &errs);
    assert_int_equal(errlist_errors(&errs), 0); /* every default is valid for its type */
    for (size_t t = 0; t < param_tables_len; t++)
        for (size_t i = 0; i < param_tables[t].len; i++) {
            assert_non_null(param_tables[t].rows[i].doc);
            assert_ptr_equal(param_find(param_tables[t].rows[i].name), &param_tables[t].rows[i]);
        }
    assert_null(param_find("no_such_parameter"));
    config_free(cfg);
    errlist_free(&errs);
}

static char *slurp(const char *name)
{
    struct buf b = BUF_INIT;
    assert_int_equal(read_file(path_of(name), 1 << 20, &b), 0);
    buf_putc(&b, 0);
    return buf_steal(&b);
}

static void test_edit_keeps_comments(void **state)
{
    write_text("edit.cf", "# head comment\n"
                          "myhostname = old.example\n"
                          "smtpd_banner = first\n"
                          "    continued\n"
                          "# between\n"
                          "mydomain = example.test\n"
                          "myhostnamex = not the same name\n");
    assert_null(config_edit_file(path_of("edit.cf"), "smtpd_banner", "new banner"));
    assert_null(config_edit_file(path_of("edit.cf"), "myhostname", "new.example"));
    assert_null(config_edit_file(path_of("edit.cf"), "queue_run_delay", "1s"));
    char *text = slurp("edit.cf");
    assert_string_equal(text, "# head comment\n"
                              "myhostname = new.example\n"
                              "smtpd_banner = new banner\n"
                              "# between\n"
                              "mydomain = example.test\n"
                              "myhostnamex = not the same name\n"
                              "queue_run_delay = 1s\n");
    free(text);
    char *err = config_edit_file(path_of("edit.cf"), "myhostname", "a\nb");
    assert_non_null(err);
    free(err);
    /* the edited file still parses to the new values */
    char from[256];
    snprintf(from, sizeof from, "%s", path_of("edit.cf")); /* path_of reuses its buffer */
    assert_int_equal(rename(from, path_of("main.cf")), 0);
    struct errlist errs = {0};
    struct config *cfg = config_load(dir, &errs);
    assert_non_null(cfg);
    assert_string_equal(config_str(cfg, "smtpd_banner"), "new banner");
    assert_int_equal(config_int(cfg, "queue_run_delay"), 1);
    config_free(cfg);
    errlist_free(&errs);
}

/* --- master.cf --- */

static int load_master(const char *text, struct mastercf *m, struct errlist *errs)
{
    write_text("master.cf", text);
    return mastercf_load(path_of("master.cf"), m, errs);
}

static void test_mastercf_good(void **state)
{
    struct mastercf m;
    struct errlist errs = {0};
    int rc = load_master("# service type private unpriv chroot wakeup maxproc command\n"
                         "127.0.0.1:2525 inet n - n - 2 smtpd\n"
                         "[::1]:2525     inet n - n - - smtpd\n"
                         "  -o smtpd_banner=hello\n"
                         "\n"
                         "# comment between entries\n"
                         "qmgr unix - - n 0 1 qmgr\n"
                         "local\tunix\ty\ty\tn\t-\t4\tlocal-mda -v\n"
                         "pickup unix n - n - - pickup\n",
                         &m, &errs);
    assert_int_equal(rc, 0);
    assert_int_equal(errs.n, 0);
    assert_int_equal(m.n, 5);
    assert_string_equal(m.v[0].service, "127.0.0.1:2525");
    assert_string_equal(m.v[0].type, "inet");
    assert_int_equal(m.v[0].maxproc, 2);
    assert_string_equal(m.v[0].command, "smtpd");
    assert_int_equal(m.v[0].nargs, 0);
    assert_null(m.v[0].args[0]);
    assert_string_equal(m.v[0].where, path_of("master.cf:2"));
    assert_int_equal(m.v[1].maxproc, 0);
    assert_int_equal(m.v[1].nargs, 2);
    assert_string_equal(m.v[1].args[0], "-o");
    assert_string_equal(m.v[1].args[1], "smtpd_banner=hello");
    assert_string_equal(m.v[1].where, path_of("master.cf:3"));
    assert_true(m.v[2].private_);
    assert_string_equal(m.v[3].command, "local-mda");
    assert_string_equal(m.v[3].args[0], "-v");
    assert_false(m.v[4].private_);
    mastercf_free(&m);

    char *host, *port;
    assert_int_equal(mastercf_inet_split("127.0.0.1:25", &host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(port, "25");
    free(host), free(port);
    assert_int_equal(mastercf_inet_split("[::1]:587", &host, &port), 0);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "587");
    free(host), free(port);
    assert_int_equal(mastercf_inet_split("25", &host, &port), 0);
    assert_string_equal(host, "");
    assert_string_equal(port, "25");
    free(host), free(port);
    assert_int_equal(mastercf_inet_split("::1:25", &host, &port), -1);
    assert_int_equal(mastercf_inet_split("[::1]25", &host, &port), -1);
    assert_int_equal(mastercf_inet_split("host:", &host, &port), -1);
}

static void test_mastercf_bad_lines(void **state)
{
    static const struct { const char *line; const char *why; } bad[] = {
        {"smtp inet n - n - 2", "8 fields"},
        {"smtp tcp n - n - 2 smtpd", "service type"},
        {"smtp inet x - n - 2 smtpd", "y, n or -"},
        {"smtp inet n - y - 2 smtpd", "chroot"},
        {"smtp inet n n n - 2 smtpd", "unpriv"},
        {"smtp inet n - n 60 2 smtpd", "wakeup"},
        {"smtp inet n - n - 0 smtpd", "maxproc"},
        {"smtp inet n - n - many smtpd", "maxproc"},
        {"smtp inet n - n - 1 ../bin/sh", "command"},
        {"[::1 inet n - n - 1 smtpd", "inet service"},
        {"a/b unix - - n - 1 qmgr", "unix service"},
        {"qmgr unix - - n - 1 qmgr -o", "-o"},
        {"qmgr unix - - n - 1 qmgr -o =x", "-o"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "# first line\nok unix - - n - 1 qmgr\n%s\n", bad[i].line);
        struct mastercf m;
        struct errlist errs = {0};
        int rc = load_master(text, &m, &errs);
        if (rc != -1 || !has_msg(&errs, "master.cf:3:", bad[i].why))
            fail_msg("line \"%s\": rc %d, %s", bad[i].line, rc, errs.n ? errs.msgs[0] : "no error");
        assert_int_equal(m.n, 1); /* the good entry is still parsed */
        mastercf_free(&m);
        errlist_free(&errs);
    }
    struct mastercf m;
    struct errlist errs = {0};
    assert_int_equal(load_master("  -o a=b\nqmgr unix - - n - 1 qmgr\nqmgr unix - - n - 1 qmgr\n",
                                 &m, &errs), -1);
    assert_true(has_msg(&errs, "master.cf:1:", "continuation"));
    assert_true(has_msg(&errs, "master.cf:3:", "duplicate"));
    mastercf_free(&m);
    errlist_free(&errs);
    assert_int_equal(mastercf_load("/nonexistent/master.cf", &m, &errs), -1);
    assert_true(has_msg(&errs, "/nonexistent/master.cf", "cannot open"));
    errlist_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continuation_and_comments),
        cmocka_unit_test(test_origin_names_file_and_line),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_expansion),
        cmocka_unit_test(test_expansion_recursion_is_bounded),
        cmocka_unit_test(test_unknown_name_warned_with_line),
        cmocka_unit_test(test_bad_values_with_line),
        cmocka_unit_test(test_typed_values),
        cmocka_unit_test(test_parse_helpers),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_defaults_table),
        cmocka_unit_test(test_edit_keeps_comments),
        cmocka_unit_test(test_mastercf_good),
        cmocka_unit_test(test_mastercf_bad_lines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
