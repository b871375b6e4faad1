/* dkim_key.h - DKIM signing keys through OpenSSL 3: RSA (RSA-SHA256, RFC 6376 sec 3.3.1;
 * at least 1024 bits as RFC 8301 sec 3.2 requires, 2048 by default) and Ed25519
 * (Ed25519-SHA256, RFC 8463): generating, PEM (PKCS#8) in and out, the public key's DNS
 * record (sec 3.6.1) and signing. A struct dkim_key is immutable once made, so one thread
 * may sign with it while another does too. Functions return errors, never log. */
#ifndef POSTHORN_DKIM_KEY_H
#define POSTHORN_DKIM_KEY_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };

#define DKIM_RSA_BITS_MIN 1024
#define DKIM_RSA_BITS_MAX 4096
#define DKIM_RSA_BITS_DEFAULT 2048
#define DKIM_KEY_FILE_MAX 16384 /* a PEM private key file; 4096-bit RSA is about 3.3 KB */

/* "rsa-sha256" or "ed25519-sha256" (the a= tag). */
const char *dkim_alg_name(enum dkim_alg alg);
/* "rsa" or "ed25519" (the k= tag of the DNS record, and the --type of keygen). */
const char *dkim_alg_type(enum dkim_alg alg);
/* The algorithm whose type is name; false when none is. */
bool dkim_alg_from_type(const char *name, enum dkim_alg *alg);

struct dkim_key;

/* A new key; bits is used for RSA only (DKIM_RSA_BITS_MIN .. MAX). NULL with *err. */
struct dkim_key *dkim_key_generate(enum dkim_alg alg, unsigned bits, char **err);
/* The key from PEM text (any private key format OpenSSL reads, unencrypted). NULL with
 * *err when unreadable, of another type, or an RSA key below DKIM_RSA_BITS_MIN. */
struct dkim_key *dkim_key_from_pem(const char *pem, size_t len, char **err);
/* The same from a file of at most DKIM_KEY_FILE_MAX bytes. */
struct dkim_key *dkim_key_load(const char *path, char **err);
void dkim_key_free(struct dkim_key *k);

enum dkim_alg dkim_key_alg(const struct dkim_key *k);
unsigned dkim_key_bits(const struct dkim_key *k);
/* Append the private key as PKCS#8 PEM to out. -1 with *err. */
int dkim_key_pem(const struct dkim_key *k, struct buf *out, char **err);
/* Append the value of the key's DNS TXT record, "v=DKIM1; k=TYPE; p=BASE64", to out: p= is
 * the DER SubjectPublicKeyInfo for RSA, the raw 32-byte public key for Ed25519 (RFC 8463
 * sec 4.2). -1 with *err. */
int dkim_key_record(const struct dkim_key *k, struct buf *out, char **err);
/* Sign data[0..len) (the canonical header fields, sec 3.7) and append the base64 of the
 * signature to out: RSA PKCS#1 v1.5 over SHA-256(data); Ed25519 (PureEdDSA) over the 32
 * bytes of SHA-256(data) (RFC 8463 sec 3). -1 with *err. */
int dkim_key_sign(const struct dkim_key *k, const void *data, size_t len, struct buf *out,
                  char **err);

#endif
