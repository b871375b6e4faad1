/* fuzz_config.c - libFuzzer target: main.cf parsing, validation and $expansion. A main.cf
 * that loads without errors must print and re-parse to the same configuration: every
 * parameter of every table keeps its raw value, whether it was set, and its expanded value
 * (the printing is "name = raw" per set parameter, the way `posthorn conf` writes them). */
#include "buf.h"
#include "config.h"
#include "fuzz_common.h"
#include <stdbool.h>

/* Calls fn for every parameter row of every table. */
static void each_param(void (*fn)(const struct param_def *p, void *ctx), void *ctx)
{
    for (size_t t = 0; t < param_tables_len; t++)
        for (size_t i = 0; i < param_tables[t].len; i++)
            fn(&param_tables[t].rows[i], ctx);
}

struct print_ctx {
    struct config *cfg;
    struct buf *out;
};

static void print_one(const struct param_def *p, void *ctx)
{
    struct print_ctx *pc = ctx;
    bool set = false;
    const char *raw = config_raw(pc->cfg, p->name, &set);
    if (set)
        buf_printf(pc->out, "%s = %s\n", p->name, raw);
}

struct cmp_ctx {
    struct config *a, *b;
};

static bool same(const char *x, const char *y) { return x == y || (x && y && !strcmp(x, y)); }

static void compare_one(const struct param_def *p, void *ctx)
{
    struct cmp_ctx *c = ctx;
    bool set_a = false, set_b = false;
    const char *ra = config_raw(c->a, p->name, &set_a);
    const char *rb = config_raw(c->b, p->name, &set_b);
    if (set_a != set_b || !same(ra, rb))
        abort();
    if (!same(config_str(c->a, p->name), config_str(c->b, p->name)))
        abort();
}

/* The re-parse check: only for a configuration without errors or warnings. */
static void check_reprint(struct config *cfg)
{
    struct buf text = BUF_INIT;
    struct print_ctx pc = {cfg, &text};
    each_param(print_one, &pc);
    fuzz_file("main.cf", (const uint8_t *)(text.data ? text.data : ""), text.len);
    struct errlist errs = {0};
    struct config *again = config_load(fuzz_dir(), &errs);
    if (!again || errs.n != 0)
        abort();
    struct cmp_ctx cc = {cfg, again};
    each_param(compare_one, &cc);
    config_free(again);
    errlist_free(&errs);
    buf_free(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file("main.cf", data, size);
    struct errlist errs = {0};
    struct config *cfg = config_load(fuzz_dir(), &errs);
    if (cfg) {
        config_validate(cfg, &errs);
        size_t n;
        config_list(cfg, "virtual_mailbox_domains", &n);
        config_str(cfg, "smtpd_banner");
        if (errs.n == 0)
            check_reprint(cfg);
        config_free(cfg);
    }
    errlist_free(&errs);
    return 0;
}
