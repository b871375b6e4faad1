/* dkim_keydir.h - the DKIM key directory (dkim_key_directory, doc/dkim.md "Keys"):
 *
 *     DIR/DOMAIN/SELECTOR.STATE.key     a PEM private key, mode 0600, owner dkim_owner
 *
 * DOMAIN is the signing domain in lowercase A-labels, SELECTOR a DNS name (RFC 6376 sec
 * 3.1) in lowercase, STATE one of active (signs), pending (published, not yet signing) and
 * retired (no longer signs; its DNS record may still be needed for mail in transit). A
 * state change is one rename in DOMAIN/. Every change also sets DIR's mtime, the stamp a
 * running signer compares to know its cached keys are stale (dkim_keydir_touch). Files
 * that do not have this shape are ignored. Functions return errors, never log. */
#ifndef POSTHORN_DKIM_KEYDIR_H
#define POSTHORN_DKIM_KEYDIR_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum dkim_key_state { DKIM_KEY_ACTIVE, DKIM_KEY_PENDING, DKIM_KEY_RETIRED };

#define DKIM_SELECTOR_MAX 63

const char *dkim_key_state_name(enum dkim_key_state st);
bool dkim_key_state_from_name(const char *name, enum dkim_key_state *st);

/* Labels of lowercase letters, digits and '-' (not at either end of a label), joined by
 * dots; at most DKIM_SELECTOR_MAX characters for a selector, 253 for a domain. */
bool dkim_selector_valid(const char *s);
bool dkim_domain_valid(const char *d);

struct dkim_keyfile {
    char *domain;
    char *selector;
    enum dkim_key_state state;
    char *path;
    time_t mtime; /* when the key was written */
};

struct dkim_keylist {
    struct dkim_keyfile *v;
    size_t n;
};

/* "DIR/DOMAIN/SELECTOR.STATE.key", malloc'ed. */
char *dkim_keyfile_path(const char *dir, const char *domain, const char *selector,
                        enum dkim_key_state st);
/* The keys of domain (NULL: of every domain), sorted by domain, then selector. A missing
 * DIR or DIR/DOMAIN is an empty list. 0, or -1 with *err. */
int dkim_keydir_scan(const char *dir, const char *domain, struct dkim_keylist *out, char **err);
void dkim_keylist_free(struct dkim_keylist *l);

/* Rename k's file to state st (k is updated), make it durable, and touch DIR. */
int dkim_keydir_set_state(const char *dir, struct dkim_keyfile *k, enum dkim_key_state st,
                          char **err);
/* Set DIR's mtime to now: running signers reload keys on their next message. */
int dkim_keydir_touch(const char *dir);
/* DIR's mtime; false when it cannot be read (no directory: no keys). */
bool dkim_keydir_stamp(const char *dir, struct timespec *ts);

#endif
