/* password.h - password hashes in Dovecot's "{SCHEME}hash" notation so hosting providers can
 * migrate users both ways. New hashes are {ARGON2ID} (libargon2, "$argon2id$v=19$m=...").
 * Verification also accepts what Dovecot writes for migrated users (doc/migration.md):
 * {ARGON2I}, the crypt(3) schemes {SHA512-CRYPT} ("$6$"), {SHA256-CRYPT} ("$5$"),
 * {BLF-CRYPT} ("$2y$"), {MD5-CRYPT} ("$1$") and {CRYPT}, and the digests {SSHA512},
 * {SSHA256}, {SSHA}, {SHA512}, {SHA256}, {SHA1}/{SHA} (base64, or hex with ".HEX").
 * Scheme names are case-insensitive. Comparison of the computed and stored hash is
 * constant-time. Plain passwords are never logged. */
#ifndef POSTHORN_PASSWORD_H
#define POSTHORN_PASSWORD_H
#include <stdbool.h>

struct config;

/* The cost of new Argon2id hashes: argon2_time_cost passes over argon2_memory_cost KiB. */
struct password_cost {
    unsigned t_cost, m_cost_kib;
};

/* The cost main.cf asks for. */
struct password_cost password_cost_of(struct config *cfg);
/* A new "{ARGON2ID}$argon2id$..." string (malloc'ed) of that cost, or NULL with *err. */
char *password_hash(const char *plain, const struct password_cost *cost, char **err);
/* 1 matches, 0 does not, -1 unknown scheme or malformed hash. */
int password_verify(const char *plain, const char *stored);
/* Whether password_verify can check stored (a known scheme and a well-formed hash),
 * without computing anything; false with *why (a static string) when it cannot. */
bool password_usable(const char *stored, const char **why);

#endif
