/* dkim_header.c - the h= list and the signing domain (see dkim_header.h). */
#include "dkim_header.h"
#include "addrlist.h"
#include "dkim_canon.h"
#include "idn.h"
#include "mem.h"
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t count_named(const struct header_field *f, size_t n, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += header_field_is(&f[i], name);
    return k;
}

static bool listed(char *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i], name) == 0)
            return true;
    return false;
}

static void push(struct dkim_hlist *h, const char *name, size_t times)
{
    if (times == 0)
        return;
    h->names = xreallocarray(h->names, h->n + times, sizeof *h->names);
    for (size_t t = 0; t < times; t++) {
        char *lower = xstrdup(name);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        h->names[h->n++] = lower;
    }
}

/* The i-th name of sign followed by oversign. */
static const char *nth_name(char *const *sign, size_t nsign, char *const *over, size_t i)
{
    return i < nsign ? sign[i] : over[i - nsign];
}

void dkim_hlist_make(const struct header_field *f, size_t n, char *const *sign, size_t nsign,
                     char *const *oversign, size_t nover, struct dkim_hlist *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < nsign + nover; i++) {
        const char *name = nth_name(sign, nsign, oversign, i);
        bool seen = !*name;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcasecmp(nth_name(sign, nsign, oversign, j), name) == 0;
        if (!seen)
            push(out, name, count_named(f, n, name) + listed(oversign, nover, name));
    }
}

void dkim_hlist_format(const struct dkim_hlist *h, struct buf *out)
{
    for (size_t i = 0; i < h->n; i++) {
        if (i)
            buf_putc(out, ':');
        buf_puts(out, h->names[i]);
    }
}

void dkim_hlist_free(struct dkim_hlist *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->names[i]);
    free(h->names);
    memset(h, 0, sizeof *h);
}

void dkim_hlist_canon(const struct header_field *f, size_t n, const struct dkim_hlist *h,
                      struct buf *out)
{
    for (size_t i = 0; i < h->n; i++) {
        /* This is the k-th entry of its name: it takes the k-th instance from the bottom. */
        size_t k = 0;
        for (size_t j = 0; j < i; j++)
            k += strcmp(h->names[j], h->names[i]) == 0;
        for (size_t j = n; j-- > 0;) {
            if (!header_field_is(&f[j], h->names[i]))
                continue;
            if (k-- == 0) {
                dkim_canon_header(f[j].text, f[j].len, true, out);
                break;
            }
        }
    }
}

/* The one mailbox of a From value, its domain in A-labels. */
static int mailbox_domain(const char *value, size_t len, char **domain, const char **why)
{
    struct addrlist l;
    addrlist_init(&l);
    addrlist_parse(&l, value, len);
    const struct addrlist_entry *mb = NULL;
    size_t mailboxes = 0;
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].kind == ADDRLIST_MAILBOX && (mailboxes++, !mb))
            mb = &l.v[i];
    int rc = -1;
    const char *d = mb ? addrlist_str(&l, mb->domain) : NULL;
    if (mailboxes != 1)
        *why = mailboxes ? "the From field has several addresses" : "the From field has no address";
    else if (!d || !*d || *d == '[' || memchr(d, 0, mb->domain.len))
        *why = "the From address has no domain name";
    else if (!(*domain = idn_domain_ascii(d)))
        *why = "the From domain is not a valid domain name";
    else
        rc = 0;
    addrlist_free(&l);
    return rc;
}

int dkim_from_domain(const struct header_field *f, size_t n, char **domain, const char **why)
{
    const struct header_field *from = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!header_field_is(&f[i], "From"))
            continue;
        if (from) {
            *why = "the message has several From fields";
            return -1;
        }
        from = &f[i];
    }
    if (!from) {
        *why = "the message has no From field";
        return -1;
    }
    struct buf value = BUF_INIT;
    header_field_value(from, &value);
    int rc = mailbox_domain(value.data ? value.data : "", value.len, domain, why);
    buf_free(&value);
    return rc;
}
