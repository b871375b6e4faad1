/* fuzz_mta_sts.c - libFuzzer target: the MTA-STS texts smtp-client and `posthorn dns check`
 * take from the network (lib/proto/mta_sts.h): byte 0 even, the rest is a policy file
 * (RFC 8461 sec 3.2); odd, the rest is a set of TXT records separated by NUL bytes (sec
 * 3.1). Invariants, besides never crashing or reading past the input:
 *  - a parsed policy has a known mode, 0 <= max_age <= 31557600, at most MTA_STS_MX_MAX
 *    patterns, at least one unless the mode is none; each pattern is lower case, no longer
 *    than 255 bytes, and matches the host it describes ("*.d" matches "x.d" but not "d");
 *  - a refused policy leaves an empty struct and an error text;
 *  - a selected TXT id is 1 to 32 letters and digits. */
#include "fuzz_common.h"
#include "mta_sts.h"
#include <ctype.h>

static void check_policy(const struct mta_sts_policy *p)
{
    if (p->mode != MTA_STS_NONE && p->mode != MTA_STS_TESTING && p->mode != MTA_STS_ENFORCE)
        abort();
    if (p->max_age < 0 || p->max_age > MTA_STS_MAX_AGE_MAX || p->nmx > MTA_STS_MX_MAX)
        abort();
    if (p->nmx == 0 && p->mode != MTA_STS_NONE)
        abort();
    for (size_t i = 0; i < p->nmx; i++) {
        const char *m = p->mx[i];
        size_t n = strlen(m);
        if (n == 0 || n > 255)
            abort();
        for (size_t k = 0; k < n; k++)
            if (isupper((unsigned char)m[k]))
                abort();
        char host[300];
        bool wild = m[0] == '*';
        snprintf(host, sizeof host, "%s%s", wild ? "x" : "", wild ? m + 1 : m);
        if (!mta_sts_mx_match(p, host))
            abort();
        if (wild && mta_sts_pattern_match(m, m + 2))
            abort();
    }
}

static void fuzz_txt(const uint8_t *data, size_t size)
{
    const char *txts[64];
    size_t lens[64], n = 0, start = 0;
    for (size_t i = 0; i <= size && n < 64; i++)
        if (i == size || data[i] == 0) {
            txts[n] = (const char *)data + start;
            lens[n++] = i - start;
            start = i + 1;
        }
    char id[MTA_STS_ID_MAX + 1];
    const char *err = NULL;
    if (mta_sts_txt_select(txts, lens, n, id, &err) == 1) {
        size_t l = strlen(id);
        if (l == 0 || l > MTA_STS_ID_MAX)
            abort();
        for (size_t k = 0; k < l; k++)
            if (!isalnum((unsigned char)id[k]))
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        fuzz_txt(data + 1, size - 1);
        return 0;
    }
    struct mta_sts_policy p;
    char *err = NULL;
    if (mta_sts_policy_parse((const char *)data + 1, size - 1, &p, &err) == 0) {
        check_policy(&p);
        mta_sts_policy_free(&p);
    } else if (!err || p.nmx || p.mx) {
        abort();
    }
    free(err);
    return 0;
}
