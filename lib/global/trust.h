/* trust.h - what root may trust. A master started by root executes the programs named by
 * daemon_directory and master.cf and reads main.cf/master.cf as root, so each of those
 * files and every directory above them must be owned by root and not writable by group or
 * others (a sticky directory such as /tmp is fine above a root-owned entry). Otherwise any
 * user who can write one of them could run code as root (posthorn check and master both
 * refuse to go on). */
#ifndef POSTHORN_TRUST_H
#define POSTHORN_TRUST_H
#include "config.h"
#include "errlist.h"
#include "mastercf.h"

/* 0 when path and its ancestors are trusted; -1 with *why (malloc'ed) otherwise. */
int trust_path(const char *path, char **why);
/* Add a problem to errs for every untrusted file root would use (no-op unless root). */
void trust_check_instance(struct config *cfg, const struct mastercf *mcf, struct errlist *errs);

#endif
