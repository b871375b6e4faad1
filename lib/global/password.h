/* password.h - password hashes in Dovecot's "{SCHEME}hash" notation so hosting providers can
 * migrate users both ways. New hashes are {ARGON2ID} (libargon2, "$argon2id$v=19$m=...").
 * Verification also accepts {SHA512-CRYPT} ("$6$...", via crypt(3)). Comparison of the
 * computed and stored hash is constant-time. Plain passwords are never logged. */
#ifndef POSTHORN_PASSWORD_H
#define POSTHORN_PASSWORD_H

/* A new "{ARGON2ID}$argon2id$..." string (malloc'ed), or NULL with *err. */
char *password_hash(const char *plain, char **err);
/* 1 matches, 0 does not, -1 unknown scheme or malformed hash. */
int password_verify(const char *plain, const char *stored);

#endif
