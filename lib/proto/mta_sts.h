/* mta_sts.h - the texts of MTA-STS (RFC 8461): the "_mta-sts" TXT record (sec 3.1), the
 * policy file served over HTTPS (sec 3.2) and the matching of MX host names against the
 * policy's "mx" patterns (sec 4.1). Shared by smtp-client (doc/smtp-client.md, "MTA-STS")
 * and `posthorn dns check`.
 *
 * Contract: pure (no I/O, no logging); parsing is strict to the RFC's ABNF (a policy that
 * does not follow it is no policy at all, sec 3.2), bounded (MTA_STS_MX_MAX patterns, a
 * record or policy of any length is read in one pass) and reports why it refused in an
 * error text (static, or malloc'ed where said). A parsed policy owns its patterns. */
#ifndef POSTHORN_MTA_STS_H
#define POSTHORN_MTA_STS_H
#include <stdbool.h>
#include <stddef.h>

#define MTA_STS_ID_MAX 32              /* sts-id: 1*32(ALPHA / DIGIT) */
#define MTA_STS_MAX_AGE_MAX 31557600L  /* sec 3.2: at most about a year */
#define MTA_STS_MX_MAX 100             /* patterns kept from one policy */
#define MTA_STS_POLICY_MAX 65536       /* the largest policy file accepted (sec 3.3) */

enum mta_sts_mode { MTA_STS_NONE, MTA_STS_TESTING, MTA_STS_ENFORCE };

struct mta_sts_policy {
    enum mta_sts_mode mode;
    long max_age;   /* seconds */
    char **mx;      /* patterns, lower case: "mx.example.com" or "*.example.com" */
    size_t nmx;
};

/* One TXT record: 1 when it is a valid STS record (its id in id), 0 when it does not start
 * with "v=STSv1" (not an STS record: ignored, sec 3.1), -1 when it does but is malformed
 * (*err says why). */
int mta_sts_txt_parse(const char *txt, size_t len, char id[MTA_STS_ID_MAX + 1], const char **err);

/* Every TXT record of _mta-sts.DOMAIN: 1 with the id when exactly one is an STS record
 * and it is valid; 0 when none is; -1 (*err) when several are or the one is malformed
 * (sec 3.1: then the domain has no usable policy record). */
int mta_sts_txt_select(const char *const *txts, const size_t *lens, size_t n,
                       char id[MTA_STS_ID_MAX + 1], const char **err);

/* The policy file: 0 with *p filled (free with mta_sts_policy_free), or -1 with *err
 * (malloc'ed, naming the line) and *p empty. */
int mta_sts_policy_parse(const char *text, size_t len, struct mta_sts_policy *p, char **err);
void mta_sts_policy_free(struct mta_sts_policy *p);

/* Does host (an MX host name, a final dot allowed) match one of p's patterns (sec 4.1:
 * "*." stands for exactly one leftmost label; no case)? */
bool mta_sts_mx_match(const struct mta_sts_policy *p, const char *host);
bool mta_sts_pattern_match(const char *pattern, const char *host);

const char *mta_sts_mode_name(enum mta_sts_mode m);

#endif
