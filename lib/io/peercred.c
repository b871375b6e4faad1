/* peercred.c - SO_PEERCRED and the private-socket trust rule (see peercred.h). */
#include "peercred.h"
#include <sys/socket.h>
#include <unistd.h>

int peercred_get(int sock, struct peercred *out)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -1;
    out->pid = cred.pid;
    out->uid = cred.uid;
    out->gid = cred.gid;
    return 0;
}

bool peercred_uid_trusted(uid_t uid, const uid_t *allowed, size_t n)
{
    if (uid == 0 || uid == getuid())
        return true;
    for (size_t i = 0; i < n; i++)
        if (allowed[i] == uid)
            return true;
    return false;
}
