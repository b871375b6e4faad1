/* dns.c - `posthorn dns records DOMAIN [--ip ADDR]... [--dmarc-policy none|quarantine|reject]
 * [--mta-sts-mode testing|enforce] [--rua ADDR] [--json]`: every DNS record DOMAIN needs to
 * send and receive mail through this instance (doc/dkim.md, "DNS records"), in zone-file
 * form (comments start with ';', so the output loads as it is into a zone that has its SOA
 * and NS records) or as JSON:
 *   A/AAAA of the mail host (myhostname) from --ip, else the public addresses smtpd listens
 *   on; MX; SPF; the TXT record of every active and pending DKIM key (retired ones as
 *   comments); DMARC (_dmarc); MTA-STS (_mta-sts) with the policy file to serve; TLS-RPT
 *   (_smtp._tls); TLSA 3 1 1 for port 25 of the mail host from smtpd_tls_cert_file; and the
 *   PTR record to ask the address's provider for. Records that belong to another zone
 *   (the mail host outside DOMAIN, PTR) are printed as comments and marked in JSON. */
#include "dns.h"
#include "dkim.h"
#include "dns_check.h"
#include "mem.h"
#include "zone.h"
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct dns_opts {
    char *domain;
    struct addr_list ips;
    const char *dmarc_policy, *mta_sts_mode;
    char *rua;
    bool json;
};

struct record {
    char *name, *type, *data;
    bool txt, in_zone, active; /* active false: a retired DKIM key, shown for information */
    char *note;
};

struct records {
    struct record *v;
    size_t n;
    char *host;
    struct buf policy; /* MTA-STS */
    struct addr_list addrs, ignored;
    struct buf notes;  /* comment lines (warnings) */
};

static void add(struct records *r, const char *name, const char *type, const char *data,
                bool txt, bool in_zone, const char *note)
{
    r->v = xreallocarray(r->v, r->n + 1, sizeof *r->v);
    r->v[r->n++] = (struct record){xstrdup(name), xstrdup(type), xstrdup(data), txt, in_zone,
                                   true, note ? xstrdup(note) : NULL};
}

static bool within(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain);
    return strcmp(name, domain) == 0 || (n > d && name[n - d - 1] == '.' && strcmp(name + n - d, domain) == 0);
}

static const char *pick(const char *v, const char *a, const char *b, const char *c, const char *what)
{
    if (strcmp(v, a) && strcmp(v, b) && (!c || strcmp(v, c)))
        cli_usage("%s is %s, %s%s%s", what, a, b, c ? " or " : "", c ? c : "");
    return v;
}

static void parse_opts(int argc, char **argv, struct dns_opts *o)
{
    static const struct option longopts[] = {
        {"ip", required_argument, NULL, 'i'}, {"dmarc-policy", required_argument, NULL, 'd'},
        {"mta-sts-mode", required_argument, NULL, 'm'}, {"rua", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    *o = (struct dns_opts){.dmarc_policy = "none", .mta_sts_mode = "testing"};
    if (argc < 2 || strcmp(argv[1], "records") != 0)
        cli_usage("dns needs a subcommand: records or check");
    argc--, argv++; /* options follow "records" */
    int opt;
    char canon[64];
    bool v6;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            if (!dns_addr_parse(optarg, &v6, canon))
                cli_usage("--ip \"%s\" is not an IPv4 or IPv6 address", optarg);
            addr_list_add(&o->ips, canon);
            break;
        case 'd': o->dmarc_policy = pick(optarg, "none", "quarantine", "reject", "--dmarc-policy"); break;
        case 'm': o->mta_sts_mode = pick(optarg, "testing", "enforce", NULL, "--mta-sts-mode"); break;
        case 'r': o->rua = xstrdup(optarg); break;
        case 'j': o->json = true; break;
        default: cli_usage(NULL);
        }
    }
    if (optind != argc - 1)
        cli_usage("dns records needs exactly one domain");
    if (!(o->domain = dkim_domain_arg(argv[optind])))
        exit(1);
    if (!o->rua)
        o->rua = xasprintf("postmaster@%s", o->domain);
    if (strpbrk(o->rua, " ;,!\"\\") || !strchr(o->rua, '@'))
        cli_usage("--rua \"%s\" is not a plain address", o->rua);
}

/* A/AAAA of the host, MX and SPF. */
static void add_host(struct cli *c, const struct dns_opts *o, struct records *r)
{
    bool in = within(r->host, o->domain);
    if (o->ips.n)
        for (size_t i = 0; i < o->ips.n; i++)
            addr_list_add(&r->addrs, o->ips.v[i]);
    else
        dns_config_addrs(c, &r->addrs, &r->ignored);
    struct buf spf = BUF_INIT;
    buf_puts(&spf, "v=spf1");
    for (size_t i = 0; i < r->addrs.n; i++) {
        bool v6 = strchr(r->addrs.v[i], ':') != NULL;
        add(r, r->host, v6 ? "AAAA" : "A", r->addrs.v[i], false, in,
            i || in ? NULL : "the mail host is not in this zone: publish in its own zone");
        if (o->ips.n)
            buf_printf(&spf, " %s:%s", v6 ? "ip6" : "ip4", r->addrs.v[i]);
    }
    for (size_t i = 0; i < r->ignored.n; i++)
        buf_printf(&r->notes, "%s (master.cf) is not a public address: give the public ones with --ip\n",
                   r->ignored.v[i]);
    if (r->addrs.n == 0)
        buf_printf(&r->notes, "no public address known for %s: give it with --ip\n", r->host);
    char *mx = xasprintf("10 %s.", r->host);
    add(r, o->domain, "MX", mx, false, true, NULL);
    buf_puts(&spf, o->ips.n ? " -all" : " mx -all");
    add(r, o->domain, "TXT", buf_cstr(&spf), true, true, NULL);
    free(mx);
    buf_free(&spf);
}

static void add_dkim(struct cli *c, const struct dns_opts *o, struct records *r)
{
    struct dkim_keylist l;
    if (dkim_keys_of(c, o->domain, &l) < 0)
        exit(1);
    for (size_t i = 0; i < l.n; i++) {
        struct buf rec = BUF_INIT;
        const char *type;
        unsigned bits;
        char *name = dkim_record_name(o->domain, l.v[i].selector);
        char *note = xasprintf("DKIM %s (%s)", l.v[i].selector, dkim_key_state_name(l.v[i].state));
        if (dkim_key_describe(&l.v[i], &rec, &type, &bits) < 0)
            exit(1);
        add(r, name, "TXT", buf_cstr(&rec), true, true, note);
        r->v[r->n - 1].active = l.v[i].state != DKIM_KEY_RETIRED;
        free(name), free(note);
        buf_free(&rec);
    }
    if (l.n == 0)
        buf_printf(&r->notes, "no DKIM key for %s yet: posthorn dkim keygen %s\n", o->domain, o->domain);
    dkim_keylist_free(&l);
}

/* DMARC, MTA-STS, TLS-RPT and TLSA. */
static void add_policies(struct cli *c, const struct dns_opts *o, struct records *r)
{
    char *name = xasprintf("_dmarc.%s", o->domain);
    char *data = xasprintf("v=DMARC1; p=%s; rua=mailto:%s", o->dmarc_policy, o->rua);
    add(r, name, "TXT", data, true, true, NULL);
    free(name), free(data);
    char id[21];
    dns_mta_sts_policy(o->mta_sts_mode, r->host, &r->policy, id);
    name = xasprintf("_mta-sts.%s", o->domain);
    data = xasprintf("v=STSv1; id=%s", id);
    add(r, name, "TXT", data, true, true, NULL);
    free(name), free(data);
    name = xasprintf("_smtp._tls.%s", o->domain);
    data = xasprintf("v=TLSRPTv1; rua=mailto:%s", o->rua);
    add(r, name, "TXT", data, true, true, NULL);
    free(name), free(data);
    struct buf hex = BUF_INIT;
    char *err = NULL;
    const char *cert = config_str(cli_config(c), PARAM(smtpd_tls_cert_file));
    if (*cert && dns_tlsa_311(cert, &hex, &err) == 0) {
        name = xasprintf("_25._tcp.%s", r->host);
        data = xasprintf("3 1 1 %s", buf_cstr(&hex));
        add(r, name, "TLSA", data, false, within(r->host, o->domain),
            "DANE (RFC 7672): useful only in a zone signed with DNSSEC; update it with the certificate's key");
        free(name), free(data);
    } else {
        buf_printf(&r->notes, "no TLSA record: %s\n", err ? err : "smtpd_tls_cert_file is not set");
    }
    free(err);
    buf_free(&hex);
}

static void print_zone(const struct dns_opts *o, struct records *r);
static void print_json(const struct dns_opts *o, struct records *r);

int cmd_dns(struct cli *c, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return cmd_dns_check(c, argc - 1, argv + 1);
    struct dns_opts o;
    parse_opts(argc, argv, &o);
    struct records r = {.host = xstrdup(config_str(cli_config(c), PARAM(myhostname)))};
    add_host(c, &o, &r);
    add_dkim(c, &o, &r);
    add_policies(c, &o, &r);
    if (o.json)
        print_json(&o, &r);
    else
        print_zone(&o, &r);
    for (size_t i = 0; i < r.n; i++) {
        free(r.v[i].name), free(r.v[i].type), free(r.v[i].data), free(r.v[i].note);
    }
    free(r.v), free(r.host), free(o.domain), free(o.rua);
    buf_free(&r.policy), buf_free(&r.notes);
    addr_list_free(&r.addrs), addr_list_free(&r.ignored), addr_list_free(&o.ips);
    return 0;
}

/* Each line of text as a comment. */
static void comment_lines(struct buf *out, const char *indent, const char *text)
{
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        buf_printf(out, ";%s%.*s\n", indent, (int)n, p);
        p += n + (p[n] == '\n');
    }
}

static void print_zone(const struct dns_opts *o, struct records *r)
{
    struct buf out = BUF_INIT;
    buf_printf(&out, "; DNS records for %s, mail host %s (posthorn dns records)\n", o->domain, r->host);
    for (size_t i = 0; i < r->n; i++) {
        const struct record *e = &r->v[i];
        const char *prefix = e->in_zone && e->active ? "" : "; ";
        if (e->note)
            buf_printf(&out, "; %s%s\n", e->note, e->active ? "" : ": keep until the mail it "
                       "signed has been delivered, then delete the record and the key");
        if (e->txt)
            zone_txt(&out, prefix, e->name, e->data);
        else
            zone_record(&out, prefix, e->name, e->type, e->data);
    }
    buf_printf(&out, "; MTA-STS: serve this file as https://mta-sts.%s/.well-known/mta-sts.txt "
                     "(a certificate for mta-sts.%s):\n", o->domain, o->domain);
    comment_lines(&out, "   ", buf_cstr(&r->policy));
    for (size_t i = 0; i < r->addrs.n; i++) {
        char *rev = dns_reverse_name(r->addrs.v[i]);
        buf_printf(&out, "; PTR: ask the provider of %s for\n;   %s. IN PTR %s.\n", r->addrs.v[i], rev, r->host);
        free(rev);
    }
    comment_lines(&out, " ", buf_cstr(&r->notes));
    fwrite(out.data, 1, out.len, stdout);
    buf_free(&out);
}

static void json_member(const char *name, const char *value, bool comma)
{
    printf("\"%s\": ", name);
    json_string(stdout, value);
    if (comma)
        printf(", ");
}

static void print_json(const struct dns_opts *o, struct records *r)
{
    printf("{");
    json_member("domain", o->domain, true);
    json_member("host", r->host, true);
    printf("\"records\": [");
    for (size_t i = 0; i < r->n; i++) {
        const struct record *e = &r->v[i];
        char *name = xasprintf("%s.", e->name);
        printf("%s\n  {", i ? "," : "");
        json_member("name", name, true);
        json_member("type", e->type, true);
        json_member("data", e->data, true);
        if (e->txt) {
            printf("\"strings\": ");
            zone_txt_json(stdout, e->data);
            printf(", ");
        }
        if (e->note)
            json_member("note", e->note, true);
        printf("\"in_zone\": %s, \"publish\": %s}", e->in_zone ? "true" : "false",
               e->active ? "true" : "false");
        free(name);
    }
    printf("\n], \"ptr\": [");
    for (size_t i = 0; i < r->addrs.n; i++) {
        char *rev = dns_reverse_name(r->addrs.v[i]), *rn = xasprintf("%s.", rev), *h = xasprintf("%s.", r->host);
        printf("%s{", i ? ", " : "");
        json_member("address", r->addrs.v[i], true);
        json_member("name", rn, true);
        json_member("data", h, false);
        printf("}");
        free(rev), free(rn), free(h);
    }
    printf("], ");
    json_member("mta_sts_policy", buf_cstr(&r->policy), true);
    json_member("notes", buf_cstr(&r->notes), false);
    printf("}\n");
}
