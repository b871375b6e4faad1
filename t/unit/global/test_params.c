/* test_params.c - cmocka tests of the parameter tables (lib/global/params.c, the
 * params_TABLE.def lists) and of what config.c does with them: every row has a sane
 * default within its bounds, ENUM defaults are among their choices, no name is in two
 * tables, every old name points to an existing parameter, PARAM(name) spells the name,
 * config_enum returns choice indices, and an old name in main.cf, in a master.cf -o and in
 * `conf set` still works, with a warning that gives file:line and the new name. */
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

static char dir[] = "/tmp/posthorn-test-params-XXXXXX";

static int setup(void **state)
{
    log_init("test_params", "-");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char path[256];
    snprintf(path, sizeof path, "%s/main.cf", dir);
    unlink(path);
    return rmdir(dir);
}

static void write_main_cf(const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/main.cf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static bool has_msg(const struct errlist *e, const char *a, const char *b)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msgs[i], a) && (!b || strstr(e->msgs[i], b)))
            return true;
    return false;
}

/* Calls fn for every row of every table. */
static void each_row(void (*fn)(const struct param_def *))
{
    for (size_t t = 0; t < param_tables_len; t++)
        for (size_t i = 0; i < param_tables[t].len; i++)
            fn(&param_tables[t].rows[i]);
}

/* The position of word in "a|b|c", or -1. */
static int position(const char *choices, const char *word)
{
    size_t n = strlen(word);
    int index = 0;
    for (const char *p = choices; *p; index++) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, word, n) == 0)
            return index;
        if (!p[len])
            break;
        p += len + 1;
    }
    return -1;
}

static void check_row(const struct param_def *p)
{
    assert_non_null(p->name);
    assert_non_null(p->def);
    assert_true(p->doc && *p->doc);
    long long n = 0;
    bool b;
    switch (p->type) {
    case PT_STR:
    case PT_LIST:
    case PT_NETS:
        break;
    case PT_BOOL:
        assert_true(config_parse_bool(p->def, &b));
        break;
    case PT_ENUM:
        assert_non_null(p->choices);
        if (position(p->choices, p->def) < 0)
            fail_msg("%s: default \"%s\" is not one of %s", p->name, p->def, p->choices);
        break;
    case PT_INT:
    case PT_TIME:
    case PT_SIZE: {
        bool ok = p->type == PT_TIME ? config_parse_time(p->def, &n)
                : p->type == PT_SIZE ? config_parse_size(p->def, &n)
                                     : (n = strtoll(p->def, NULL, 10), true);
        if (!ok || p->min > p->max || n < p->min || n > p->max)
            fail_msg("%s: default \"%s\" is not within [%lld, %lld]", p->name, p->def, p->min,
                     p->max);
        break;
    }
    }
}

static void test_defaults_within_bounds(void **state) { each_row(check_row); }

static void test_no_name_in_two_tables(void **state)
{
    size_t total = 0;
    for (size_t t = 0; t < param_tables_len; t++) {
        assert_true(param_tables[t].len > 0);
        for (size_t i = 0; i < param_tables[t].len; i++) {
            const struct param_def *p = &param_tables[t].rows[i];
            total++;
            /* param_find returns the first row with the name: a duplicate would differ */
            assert_ptr_equal(param_find(p->name), p);
            assert_ptr_equal(param_table_of(p), &param_tables[t]);
            assert_null(param_renamed(p->name)); /* a current name is nobody's old name */
        }
    }
    size_t distinct = 0;
    for (size_t t = 0; t < param_tables_len; t++)
        for (size_t i = 0; i < param_tables[t].len; i++) {
            bool seen = false;
            for (size_t u = 0; u <= t && !seen; u++)
                for (size_t j = 0; j < (u == t ? i : param_tables[u].len); j++)
                    if (strcmp(param_tables[u].rows[j].name, param_tables[t].rows[i].name) == 0)
                        seen = true;
            distinct += !seen;
        }
    assert_int_equal(distinct, total);
}

static void test_aliases_point_to_parameters(void **state)
{
    assert_true(param_aliases_len > 0);
    for (size_t i = 0; i < param_aliases_len; i++) {
        const struct param_alias *a = &param_aliases[i];
        if (!param_find(a->new_name))
            fail_msg("old name %s points to %s, which is not a parameter", a->old_name, a->new_name);
        assert_null(param_find(a->old_name));
        assert_string_equal(param_renamed(a->old_name), a->new_name);
    }
    assert_null(param_renamed("smtpd_banner"));
}

/* PARAM() is an address constant: this table is a static initializer. */
static const char *const names_in_static_table[] = {PARAM(smtpd_banner), PARAM(pop3d_idle_timeout)};

static void test_param_macro_spells_the_name(void **state)
{
    assert_string_equal(PARAM(smtpd_banner), "smtpd_banner");
    assert_string_equal(names_in_static_table[1], "pop3d_idle_timeout");
    assert_string_equal(PARAM(login_failure_delay), "login_failure_delay");
    assert_non_null(param_find(PARAM(config_directory)));
    assert_string_equal(param_table_of(param_find(PARAM(smtpd_banner)))->name, "smtpd");
    assert_string_equal(param_table_of(param_find(PARAM(login_max_failures)))->name, "core");
}

static void test_config_enum(void **state)
{
    struct errlist errs = {0};
    write_main_cf("smtpd_forbid_bare_newline = REJECT\n"
                  "smtpd_tls_security_level = encrypt\n"
                  "pop3d_tls_protocols_min = bogus\n");
    struct config *cfg = config_load(dir, &errs);
    assert_non_null(cfg);
    /* smtpd maps these indices: normalize|reject|no and none|may|encrypt */
    assert_int_equal(config_enum(cfg, PARAM(smtpd_forbid_bare_newline)), 1);
    assert_int_equal(config_enum(cfg, PARAM(smtpd_tls_security_level)), 2);
    assert_int_equal(config_enum(cfg, PARAM(smtpd_tls_protocols_min)), 0); /* default */
    assert_int_equal(config_enum(cfg, PARAM(pop3d_tls_protocols_min)), 0); /* bad: default */
    assert_int_equal(config_enum(cfg, PARAM(pop3_role)), 0);
    config_validate(cfg, &errs);
    assert_true(has_msg(&errs, "main.cf:3", "pop3d_tls_protocols_min"));
    config_free(cfg);
    errlist_free(&errs);

    cfg = config_defaults(dir);
    assert_int_equal(config_enum(cfg, PARAM(smtpd_forbid_bare_newline)), 0);
    assert_int_equal(config_enum(cfg, PARAM(smtpd_tls_security_level)), 1);
    assert_true(config_override(cfg, "smtpd_forbid_bare_newline=no", "master.cf:2", &errs));
    assert_int_equal(config_enum(cfg, PARAM(smtpd_forbid_bare_newline)), 2);
    config_free(cfg);
    errlist_free(&errs);
}

static void test_old_name_in_main_cf(void **state)
{
    struct errlist errs = {0};
    write_main_cf("myhostname = a.example\n"
                  "pop3_idle_timeout = 5m\n"
                  "auth_max_failures = 3\n"
                  "local_x = $pop3_idle_timeout\n");
    struct config *cfg = config_load(dir, &errs);
    assert_non_null(cfg);
    assert_int_equal(errlist_errors(&errs), 0);
    assert_int_equal(errs.warnings, 2);
    assert_true(has_msg(&errs, "main.cf:2: ", "\"pop3_idle_timeout\" is an old name: use pop3d_idle_timeout"));
    assert_true(has_msg(&errs, "main.cf:3: ", "use login_max_failures"));
    assert_int_equal(config_int(cfg, PARAM(pop3d_idle_timeout)), 300);
    assert_int_equal(config_int(cfg, "pop3_idle_timeout"), 300); /* old name reads the same */
    assert_int_equal(config_int(cfg, PARAM(login_max_failures)), 3);
    assert_string_equal(config_str(cfg, "local_x"), "5m"); /* $old_name expands too */
    char where[300];
    snprintf(where, sizeof where, "%s/main.cf:2", dir);
    assert_string_equal(config_origin(cfg, PARAM(pop3d_idle_timeout)), where);
    config_validate(cfg, &errs);
    assert_int_equal(errlist_errors(&errs), 0);
    config_free(cfg);
    errlist_free(&errs);
}

static void test_old_name_in_override(void **state)
{
    struct errlist errs = {0};
    struct config *cfg = config_defaults(dir);
    assert_true(config_override(cfg, "pop3_allow_plaintext_auth=yes", "master.cf:7", &errs));
    assert_true(has_msg(&errs, "master.cf:7: ", "use login_allow_plaintext_auth"));
    assert_true(config_bool(cfg, PARAM(login_allow_plaintext_auth)));
    assert_string_equal(config_origin(cfg, PARAM(login_allow_plaintext_auth)), "master.cf:7");
    config_free(cfg);
    errlist_free(&errs);
}

static void test_edit_replaces_old_name(void **state)
{
    char path[256];
    snprintf(path, sizeof path, "%s/main.cf", dir);
    write_main_cf("# c\npop3_error_limit = 5\n  7\nmyhostname = h\n");
    assert_null(config_edit_file(path, PARAM(pop3d_error_limit), "9"));
    struct buf b = BUF_INIT;
    assert_int_equal(read_file(path, 1 << 20, &b), 0);
    buf_putc(&b, 0);
    assert_string_equal(b.data, "# c\npop3d_error_limit = 9\nmyhostname = h\n");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_within_bounds),
        cmocka_unit_test(test_no_name_in_two_tables),
        cmocka_unit_test(test_aliases_point_to_parameters),
        cmocka_unit_test(test_param_macro_spells_the_name),
        cmocka_unit_test(test_config_enum),
        cmocka_unit_test(test_old_name_in_main_cf),
        cmocka_unit_test(test_old_name_in_override),
        cmocka_unit_test(test_edit_replaces_old_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
