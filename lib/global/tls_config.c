/* tls_config.c - TLS server contexts configured from main.cf (see tls_config.h). */
#include "tls_config.h"
#include "config.h"
#include "log.h"
#include <stdio.h>
#include <stdlib.h>

SSL_CTX *tls_server_from_config(struct config *cfg, const char *prefix, bool required,
                                const char *feature)
{
    char name[64];
    snprintf(name, sizeof name, "%s_tls_cert_file", prefix);
    const char *cert = config_str(cfg, name);
    snprintf(name, sizeof name, "%s_tls_key_file", prefix);
    const char *key = config_str(cfg, name);
    if (!cert[0]) {
        if (required)
            log_fatal("TLS is required but %s_tls_cert_file is not set", prefix);
        return NULL;
    }
    snprintf(name, sizeof name, "%s_tls_protocols_min", prefix);
    char *err = NULL;
    SSL_CTX *ctx = tls_server_context(cert, key[0] ? key : cert, config_str(cfg, name), &err);
    if (!ctx) {
        if (required)
            log_fatal("TLS is required but cannot be set up: %s", err);
        log_warn("TLS disabled (%s not offered): %s", feature, err);
        free(err);
    }
    return ctx;
}
