/* fuzz_dns_answer.c - libFuzzer target: the decoding of DNS answers the SMTP client consumes
 * (lib/io/dns_decode.h, the layer right above libunbound): MX, A, AAAA, TXT, PTR and TLSA
 * records as libunbound hands them over (rdata, uncompressed), with any combination of
 * libunbound's flags. Input: byte 0 the record type, byte 1 the flags (bit 0 a libunbound
 * error, 1 bogus, 2 NXDOMAIN, 3 havedata, 4 secure, 5-7 the rcode), then records as a 2-byte
 * big-endian length and the rdata. Invariants, besides never crashing or reading past a
 * record:
 *  - the status follows the flags in libunbound's order (error, bogus, NXDOMAIN, rcode,
 *    data); records only with DNS_OK; secure only without an error;
 *  - no more records than given; names (MX, PTR) non-empty, shorter than DNS_NAME_MAX, of
 *    bytes between '!' and '~' but '\\', no empty label; MX sorted by preference, never
 *    "." (a null MX "0 ." is null_mx and leaves no records); A and AAAA addresses parse back; TXT data is
 *    terminated and no longer than its record; TLSA data is the record less 3 bytes. */
#include "fuzz_common.h"
#include "dns_decode.h"
#include <arpa/inet.h>

#define MAX_RECORDS 64

static void check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= DNS_NAME_MAX)
        abort();
    if (strcmp(name, ".") == 0)
        return;
    if (name[0] == '.' || name[n - 1] == '.' || strstr(name, ".."))
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] >= 127 || name[i] == '\\')
            abort();
}

static void check_records(enum dns_type type, const struct dns_result *res, char **data,
                          const int *len, size_t given)
{
    if (res->n > given)
        abort();
    for (size_t i = 0; i < res->n; i++) {
        const struct dns_rr *rr = &res->rr[i];
        unsigned char a[16];
        switch (type) {
        case DNS_MX:
            check_name(rr->name);
            if (strcmp(rr->name, ".") == 0)
                abort(); /* the null MX is reported as null_mx, never as a host */
            if (i > 0 && res->rr[i - 1].pref > rr->pref)
                abort();
            break;
        case DNS_PTR: check_name(rr->name); break;
        case DNS_A:
            if (inet_pton(AF_INET, rr->addr, a) != 1)
                abort();
            break;
        case DNS_AAAA:
            if (inet_pton(AF_INET6, rr->addr, a) != 1)
                abort();
            break;
        case DNS_TXT:
            if (!rr->data || rr->data[rr->len] != 0)
                abort();
            break;
        case DNS_TLSA: {
            bool found = false; /* some given record is this one */
            for (size_t k = 0; k < given && !found; k++)
                found = len[k] == (int)rr->len + 3 && (unsigned char)data[k][0] == rr->usage &&
                        memcmp(data[k] + 3, rr->data, rr->len) == 0;
            if (!found)
                abort();
            break;
        }
        }
    }
    if (res->null_mx && res->n != 0)
        abort();
}

static enum dns_status expected(int err, const struct ub_result *r)
{
    if (err)
        return DNS_TEMPFAIL;
    if (r->bogus)
        return DNS_BOGUS;
    if (r->nxdomain)
        return DNS_NXDOMAIN;
    if (r->rcode)
        return DNS_TEMPFAIL;
    return r->havedata ? DNS_OK : DNS_NODATA;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 2)
        return 0;
    enum dns_type type = (enum dns_type)(in[0] % 6);
    uint8_t flags = in[1];
    char *data[MAX_RECORDS + 1] = {0};
    int len[MAX_RECORDS + 1] = {0};
    size_t n = 0, off = 2;
    while (n < MAX_RECORDS && off + 2 <= size) {
        size_t l = (size_t)in[off] << 8 | in[off + 1];
        off += 2;
        if (l > size - off)
            l = size - off;
        data[n] = malloc(l ? l : 1); /* exactly l bytes: ASan sees any over-read */
        memcpy(data[n], in + off, l);
        len[n++] = (int)l;
        off += l;
    }
    char qname[] = "fuzz.example";
    struct ub_result r = {.qname = qname, .qtype = 1, .qclass = 1, .data = data, .len = len,
                          .rcode = flags >> 5, .havedata = (flags >> 3) & 1,
                          .nxdomain = (flags >> 2) & 1, .secure = (flags >> 4) & 1,
                          .bogus = (flags >> 1) & 1};
    int err = flags & 1 ? -2 /* UB_NOMEM */ : 0;
    struct dns_result res = {.type = type};
    dns_decode(type, err, &r, &res);
    enum dns_status want = expected(err, &r);
    bool mx_empty = type == DNS_MX && want == DNS_OK && res.status == DNS_NODATA && res.n == 0;
    if (res.status != want && !mx_empty)
        abort();
    if (res.status != DNS_OK && res.n != 0)
        abort();
    if (res.secure && err)
        abort();
    check_records(type, &res, data, len, n);
    dns_result_release(&res);
    for (size_t i = 0; i < n; i++)
        free(data[i]);
    return 0;
}
