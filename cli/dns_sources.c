/* dns_sources.c - what `posthorn dns records` puts into the records (see dns.h). */
#include "dns.h"
#include "hex.h"
#include "mastercf.h"
#include "mem.h"
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dns_addr_parse(const char *s, bool *v6, char *out)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, s, a) == 1) {
        *v6 = false;
        return inet_ntop(AF_INET, a, out, INET6_ADDRSTRLEN) != NULL;
    }
    if (inet_pton(AF_INET6, s, a) == 1) {
        *v6 = true;
        return inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN) != NULL;
    }
    return false;
}

void addr_list_add(struct addr_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return;
    l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
    l->v[l->n++] = xstrdup(s);
}

void addr_list_free(struct addr_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Loopback, unspecified, private (RFC 1918, RFC 4193), link-local or CGNAT (RFC 6598). */
static bool not_public(const char *addr, bool v6)
{
    unsigned char a[16];
    if (!v6) {
        inet_pton(AF_INET, addr, a);
        return a[0] == 0 || a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
               (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) ||
               (a[0] == 100 && (a[1] & 0xc0) == 64);
    }
    inet_pton(AF_INET6, addr, a);
    static const unsigned char zero[15] = {0};
    bool low = memcmp(a, zero, 15) == 0; /* :: and ::1 */
    return (low && a[15] <= 1) || (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

/* The host part of an inet service "host:port" or "[v6]:port"; NULL for a bare port. */
static char *service_host(const char *service)
{
    if (service[0] == '[') {
        const char *end = strchr(service, ']');
        return end ? xstrndup(service + 1, (size_t)(end - service - 1)) : NULL;
    }
    const char *colon = strrchr(service, ':');
    return colon ? xstrndup(service, (size_t)(colon - service)) : NULL;
}

void dns_config_addrs(struct cli *c, struct addr_list *public_, struct addr_list *other)
{
    char *path = xasprintf("%s/master.cf", c->confdir);
    struct mastercf m;
    struct errlist errs = {0};
    mastercf_load(path, &m, &errs);
    for (size_t i = 0; i < m.n; i++) {
        if (strcmp(m.v[i].type, "inet") != 0 || strcmp(m.v[i].command, "smtpd") != 0)
            continue;
        char *host = service_host(m.v[i].service), canon[INET6_ADDRSTRLEN];
        bool v6;
        if (host && dns_addr_parse(host, &v6, canon))
            addr_list_add(not_public(canon, v6) ? other : public_, canon);
        free(host);
    }
    mastercf_free(&m);
    errlist_free(&errs);
    free(path);
}

char *dns_reverse_name(const char *addr)
{
    unsigned char a[16];
    struct buf b = BUF_INIT;
    if (inet_pton(AF_INET, addr, a) == 1) {
        buf_printf(&b, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
    } else if (inet_pton(AF_INET6, addr, a) == 1) {
        static const char digits[] = "0123456789abcdef";
        for (int i = 15; i >= 0; i--)
            buf_printf(&b, "%c.%c.", digits[a[i] & 15], digits[a[i] >> 4]);
        buf_puts(&b, "ip6.arpa");
    }
    return buf_steal(&b);
}

int dns_tlsa_311(const char *path, struct buf *hex, char **err)
{
    struct errlist errs = {0};
    X509 *x = (X509 *)cli_load_cert(path, &errs);
    if (!x) {
        *err = xstrdup(errs.n ? errs.msgs[0] : path);
        errlist_free(&errs);
        return -1;
    }
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    int rc = -1;
    if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1) {
        hex_encode(md, mdlen, hex);
        rc = 0;
    } else {
        *err = xasprintf("%s: cannot hash the public key", path);
    }
    OPENSSL_free(der);
    X509_free(x);
    return rc;
}

void dns_mta_sts_policy(const char *mode, const char *host, struct buf *policy, char id[21])
{
    /* A week once enforced (RFC 8461 sec 3.2 suggests weeks); a day while testing, so a
     * change is seen soon. */
    buf_printf(policy, "version: STSv1\nmode: %s\nmx: %s\nmax_age: %d\n", mode, host,
               strcmp(mode, "enforce") == 0 ? 604800 : 86400);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(policy->data, policy->len, md, &mdlen, EVP_sha256(), NULL);
    struct buf h = BUF_INIT;
    hex_encode(md, 10, &h);
    snprintf(id, 21, "%s", buf_cstr(&h));
    buf_free(&h);
}
