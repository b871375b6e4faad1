/* dns_check.c - `posthorn dns check DOMAIN [--ip ADDR]... [--json]`: verify live, against
 * dns_resolver, what `posthorn dns records` asks to publish (doc/dkim.md, "Checking the
 * records"): the MX records and the mail host's addresses, SPF (syntax, the 10-lookup
 * limit), every DKIM key's record against the key, DMARC, the MTA-STS record and policy
 * (fetched over HTTPS as smtp-client fetches it), TLS-RPT, the TLSA records against the certificate
 * in use, and for each sending address that its PTR name resolves back to it (FCrDNS).
 * One line per check, ok/warn/fail with the reason, or JSON; exit status 1 on any fail.
 * Run as root (or dkim_owner) so the DKIM keys can be read. */
#include "dns_check.h"
#include "dkim.h"
#include "mem.h"
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const verdict_names[] = {"ok", "warn", "fail"};

void dc_add(struct check_ctx *x, const char *name, enum verdict v, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    x->v = xreallocarray(x->v, x->n + 1, sizeof *x->v);
    x->v[x->n++] = (struct check_line){xstrdup(name), buf_steal(&b), v};
}

const char *dc_dns_why(const struct answer *a)
{
    static char text[200];
    switch (a->status) {
    case DNS_NXDOMAIN: return "no such domain";
    case DNS_NODATA: return "no record";
    case DNS_TEMPFAIL:
    case DNS_BOGUS:
        snprintf(text, sizeof text, "%s: %s", dns_status_name(a->status), a->error);
        return text;
    case DNS_OK: break;
    }
    return "no usable record";
}

/* --- MX and addresses --- */

static void dc_mx(struct check_ctx *x)
{
    struct answer a;
    dnsq_lookup(&x->r, DNS_MX, x->domain, &a);
    if (a.null_mx) {
        dc_add(x, "mx", V_FAIL, "null MX (RFC 7505): %s accepts no mail", x->domain);
    } else if (a.status != DNS_OK) {
        dc_add(x, "mx", a.status == DNS_NODATA ? V_WARN : V_FAIL, "%s%s", dc_dns_why(&a),
                  a.status == DNS_NODATA ? ": senders fall back to the domain's own address" : "");
    } else {
        struct buf list = BUF_INIT;
        bool self = false;
        for (size_t i = 0; i < a.n; i++) {
            buf_printf(&list, "%s%u %s", i ? ", " : "", a.rr[i].pref, a.rr[i].name);
            addr_list_add(&x->mx, a.rr[i].name);
            self |= strcasecmp(a.rr[i].name, x->host) == 0;
        }
        if (self)
            dc_add(x, "mx", V_OK, "%s", buf_cstr(&list));
        else
            dc_add(x, "mx", V_WARN, "%s: none of them is this host (%s)", buf_cstr(&list), x->host);
        buf_free(&list);
    }
    answer_free(&a);
}

/* The A and AAAA records of host into got. */
static void addresses_of(struct check_ctx *x, const char *host, struct addr_list *got,
                         struct buf *why)
{
    static const enum dns_type types[2] = {DNS_A, DNS_AAAA};
    for (int k = 0; k < 2; k++) {
        struct answer a;
        dnsq_lookup(&x->r, types[k], host, &a);
        for (size_t i = 0; a.status == DNS_OK && i < a.n; i++)
            addr_list_add(got, a.rr[i].addr);
        if (a.status == DNS_TEMPFAIL || a.status == DNS_BOGUS)
            buf_printf(why, "%s%s: %s", why->len ? "; " : "", dns_type_name(types[k]), dc_dns_why(&a));
        answer_free(&a);
    }
}

static void dc_host(struct check_ctx *x, const char *host)
{
    struct addr_list got = {0};
    struct buf why = BUF_INIT, list = BUF_INIT;
    char *name = xasprintf("address %s", host);
    addresses_of(x, host, &got, &why);
    for (size_t i = 0; i < got.n; i++)
        buf_printf(&list, "%s%s", i ? " " : "", got.v[i]);
    struct buf missing = BUF_INIT;
    for (size_t i = 0; strcasecmp(host, x->host) == 0 && i < x->addrs.n; i++) {
        bool found = false;
        for (size_t k = 0; k < got.n && !found; k++)
            found = strcmp(got.v[k], x->addrs.v[i]) == 0;
        if (!found)
            buf_printf(&missing, "%s%s", missing.len ? " " : "", x->addrs.v[i]);
    }
    if (got.n == 0)
        dc_add(x, name, V_FAIL, "no A or AAAA record%s%s", why.len ? ": " : "", buf_cstr(&why));
    else if (missing.len)
        dc_add(x, name, V_FAIL, "%s, but not the sending address %s", buf_cstr(&list), buf_cstr(&missing));
    else
        dc_add(x, name, V_OK, "%s", buf_cstr(&list));
    free(name);
    buf_free(&why), buf_free(&list), buf_free(&missing);
    addr_list_free(&got);
}

static void dc_addresses(struct check_ctx *x)
{
    bool self = false;
    for (size_t i = 0; i < x->mx.n; i++) {
        dc_host(x, x->mx.v[i]);
        self |= strcasecmp(x->mx.v[i], x->host) == 0;
    }
    if (!self)
        dc_host(x, x->host);
}

/* --- forward-confirmed reverse DNS of the sending addresses --- */

static bool resolves_to(struct check_ctx *x, const char *name, const char *addr)
{
    struct addr_list got = {0};
    struct buf why = BUF_INIT;
    addresses_of(x, name, &got, &why);
    bool found = false;
    for (size_t i = 0; i < got.n && !found; i++)
        found = strcmp(got.v[i], addr) == 0;
    addr_list_free(&got);
    buf_free(&why);
    return found;
}

static void dc_ptr_of(struct check_ctx *x, const char *addr, const char *helo)
{
    struct answer a;
    char *name = xasprintf("ptr %s", addr);
    dnsq_lookup(&x->r, DNS_PTR, addr, &a);
    if (a.status != DNS_OK || a.n == 0) {
        dc_add(x, name, V_FAIL, "%s: many receivers refuse mail from an address without a "
                  "name", dc_dns_why(&a));
    } else {
        const char *confirmed = NULL;
        for (size_t i = 0; i < a.n && !confirmed; i++)
            if (resolves_to(x, a.rr[i].name, addr))
                confirmed = a.rr[i].name;
        if (!confirmed)
            dc_add(x, name, V_FAIL, "%s has no A/AAAA record back to %s (FCrDNS)", a.rr[0].name, addr);
        else if (strcasecmp(confirmed, helo) != 0)
            dc_add(x, name, V_WARN, "%s -> %s -> %s, but the HELO name is %s", addr, confirmed,
                      addr, helo);
        else
            dc_add(x, name, V_OK, "%s -> %s -> %s", addr, confirmed, addr);
    }
    free(name);
    answer_free(&a);
}

static void dc_ptr(struct check_ctx *x)
{
    const char *helo = config_str(cli_config(x->c), PARAM(smtp_helo_name));
    if (!*helo)
        helo = x->host;
    if (x->addrs.n == 0)
        dc_add(x, "ptr", V_WARN, "no public sending address known: give it with --ip");
    for (size_t i = 0; i < x->addrs.n; i++)
        dc_ptr_of(x, x->addrs.v[i], helo);
}

/* --- the command --- */

static void sending_addresses(struct check_ctx *x, struct addr_list *ips)
{
    struct config *cfg = cli_config(x->c);
    const char *bind[2] = {config_str(cfg, PARAM(smtp_bind_address)),
                           config_str(cfg, PARAM(smtp_bind_address6))};
    struct addr_list other = {0};
    for (size_t i = 0; i < ips->n; i++)
        addr_list_add(&x->addrs, ips->v[i]);
    for (int k = 0; k < 2 && ips->n == 0; k++)
        if (*bind[k])
            addr_list_add(&x->addrs, bind[k]);
    if (x->addrs.n == 0)
        dns_config_addrs(x->c, &x->addrs, &other);
    addr_list_free(&other);
}

static void print_text(const struct check_ctx *x)
{
    for (size_t i = 0; i < x->n; i++)
        printf("%-4s %s: %s\n", verdict_names[x->v[i].v], x->v[i].name, x->v[i].reason);
}

static void print_json(const struct check_ctx *x, size_t fails)
{
    printf("{\"domain\": ");
    json_string(stdout, x->domain);
    printf(", \"failures\": %zu, \"checks\": [", fails);
    for (size_t i = 0; i < x->n; i++) {
        printf("%s\n  {\"check\": ", i ? "," : "");
        json_string(stdout, x->v[i].name);
        printf(", \"status\": \"%s\", \"reason\": ", verdict_names[x->v[i].v]);
        json_string(stdout, x->v[i].reason);
        printf("}");
    }
    printf("\n]}\n");
}

static void parse_opts(int argc, char **argv, struct addr_list *ips, bool *json, char **domain)
{
    static const struct option longopts[] = {{"ip", required_argument, NULL, 'i'},
                                             {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    int opt;
    bool v6;
    char canon[64];
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 'j') {
            *json = true;
        } else if (opt == 'i' && dns_addr_parse(optarg, &v6, canon)) {
            addr_list_add(ips, canon);
        } else if (opt == 'i') {
            cli_usage("--ip \"%s\" is not an IPv4 or IPv6 address", optarg);
        } else {
            cli_usage(NULL);
        }
    }
    if (optind != argc - 1)
        cli_usage("dns check needs exactly one domain");
    if (!(*domain = dkim_domain_arg(argv[optind])))
        exit(1);
}

int cmd_dns_check(struct cli *c, int argc, char **argv)
{
    struct addr_list ips = {0};
    bool json = false;
    char *domain = NULL, *err = NULL;
    parse_opts(argc, argv, &ips, &json, &domain);
    struct check_ctx x = {.c = c, .domain = domain,
                          .host = config_str(cli_config(c), PARAM(myhostname))};
    if (dnsq_open(c, &x.r, &err) < 0) {
        cli_err("%s", err);
        free(err);
        return 1;
    }
    sending_addresses(&x, &ips);
    dc_mx(&x);
    dc_addresses(&x);
    dc_spf(&x);
    dc_dkim(&x);
    dc_dmarc(&x);
    dc_mta_sts(&x);
    dc_tls_rpt(&x);
    dc_tlsa(&x);
    dc_ptr(&x);
    size_t fails = 0;
    for (size_t i = 0; i < x.n; i++)
        fails += x.v[i].v == V_FAIL;
    if (json)
        print_json(&x, fails);
    else
        print_text(&x);
    dnsq_close(&x.r);
    for (size_t i = 0; i < x.n; i++)
        free(x.v[i].name), free(x.v[i].reason);
    free(x.v);
    free(domain);
    addr_list_free(&x.addrs), addr_list_free(&x.mx), addr_list_free(&ips);
    return fails ? 1 : 0;
}
