/* password_int.h - the verifiers of lib/global/password.c's scheme table that live in
 * password_crypt.c (crypt(3) hashes) and password_sha.c (salted SHA digests). Not a public
 * header. Each verify function returns 1 match, 0 no match, -1 malformed; each check
 * function 0 well formed, -1 not (without computing anything). The hash is the text after
 * "{SCHEME}". */
#ifndef POSTHORN_PASSWORD_INT_H
#define POSTHORN_PASSWORD_INT_H
#include <stddef.h>

/* crypt(3) family: prefix "$6$", "$5$", "$1$", "$2y$" ... or NULL for any of them ({CRYPT}). */
int pw_crypt_check(const char *hash, const char *prefix);
int pw_crypt_verify(const char *plain, const char *hash, const char *prefix);

/* SHA digests: algo "SHA1", "SHA256", "SHA512"; salted with the salt after the digest;
 * encoding 'b' base64 (Dovecot's default) or 'h' hex. */
int pw_sha_check(const char *hash, const char *algo, int salted, char encoding);
int pw_sha_verify(const char *plain, const char *hash, const char *algo, int salted, char encoding);

/* Constant-time comparison of two byte strings of possibly different length: 1 equal. */
int pw_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
