/* tls_config.h - a daemon's TLS server context from its main.cf parameters (the layer that
 * knows configuration; lib/io/tls.h builds contexts from file names alone). */
#ifndef POSTHORN_TLS_CONFIG_H
#define POSTHORN_TLS_CONFIG_H
#include "tls.h"
#include <stdbool.h>

struct config;
/* The context a daemon configures with PREFIX_tls_cert_file, PREFIX_tls_key_file (empty:
 * the key is in the certificate file) and PREFIX_tls_protocols_min. NULL when no
 * certificate is set or it cannot be loaded: fatal when required (the daemon cannot work
 * without TLS), else a warning that `feature` is not offered. Call while still privileged. */
SSL_CTX *tls_server_from_config(struct config *cfg, const char *prefix, bool required,
                                const char *feature);

#endif
