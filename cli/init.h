/* init.h - the pieces of `posthorn init` (init.c drives them): the layout of a new
 * instance, system users, templates and the self-signed certificate. */
#ifndef POSTHORN_CLI_INIT_H
#define POSTHORN_CLI_INIT_H
#include "buf.h"
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Who should own a created path; apply is false when nothing needs changing. */
struct init_owner {
    bool apply;
    uid_t uid;
    gid_t gid;
};

/* init_tls.c */
int init_make_certificate(const char *host, const char *cert_path, const char *key_path,
                          const struct init_owner *owner, char **err);

/* init_layout.c */
/* mkdir (existing directories are fine unless they are symlinks), then owner and mode. */
int init_dir(const char *path, mode_t mode, const struct init_owner *owner, char **err);
/* Write a new file (O_EXCL) with mode and owner; fsync'ed. */
int init_file(const char *path, const char *data, size_t len, mode_t mode,
              const struct init_owner *owner, char **err);
/* Replace every @NAME@ in tmpl by the value in vars ("NAME", "value", ..., NULL).
 * An unknown @NAME@ is an error (the template and init drifted apart). */
int init_fill(const char *tmpl, const char *const *vars, struct buf *out, char **err);
/* As root: create the system user (useradd --system) unless it exists. */
int init_system_user(const char *name, char **err);
/* The directory of the running binary when a `master` program is beside it, else NULL. */
char *init_daemon_dir_guess(void);

/* Embedded by cli/templates.cmake from conf/main.cf and conf/master.cf. */
extern const char conf_template_main_cf[];
extern const char conf_template_master_cf[];

#endif
