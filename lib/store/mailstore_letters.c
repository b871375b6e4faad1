/* mailstore_letters.c - the info part of Maildir file names and finding a message's file.
 * A message in cur/ is named BASE:2,LETTERS: the system flags as the upper-case letters
 * D F P R S T, then keywords 0..25 of the folder's table as a..z (Dovecot's convention,
 * with the names in the folder's dovecot-keywords file), all in ASCII order as the Maildir
 * specification asks. Keywords 26..63 exist only in the index. */
#include "mailstore_int.h"
#include "mem.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char flag_letters[] = "DFPRST"; /* bit i of the flags is letter i (sorted) */

const char *ms_letters(uint32_t flags, uint64_t keywords, char *out)
{
    size_t n = 0;
    for (int i = 0; flag_letters[i]; i++)
        if (flags & (1u << i))
            out[n++] = flag_letters[i];
    for (int i = 0; i < MS_LETTER_KEYWORDS; i++)
        if (keywords & (UINT64_C(1) << i))
            out[n++] = (char)('a' + i);
    out[n] = 0;
    return out;
}

void ms_letters_parse(const char *letters, uint32_t *flags, uint32_t *az)
{
    *flags = 0;
    *az = 0;
    for (; *letters; letters++) {
        const char *p = strchr(flag_letters, *letters);
        if (p)
            *flags |= 1u << (p - flag_letters);
        else if (*letters >= 'a' && *letters <= 'z')
            *az |= 1u << (*letters - 'a');
    }
}

uint64_t ms_name_time(const char *name, size_t namelen)
{
    uint64_t t = 0;
    size_t i;
    for (i = 0; i < namelen && i < 12 && name[i] >= '0' && name[i] <= '9'; i++)
        t = t * 10 + (uint64_t)(name[i] - '0');
    return i > 0 && i < namelen && name[i] == '.' ? t : 0;
}

static bool is_file(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *ms_cur_path(const char *dir, const char *name, size_t namelen, uint32_t flags, uint64_t keywords)
{
    char letters[MS_LETTERS_MAX];
    return xasprintf("%s/cur/%.*s:2,%s", dir, (int)namelen, name, ms_letters(flags, keywords, letters));
}

/* Any cur/NAME:... (flags changed by another program). */
static char *scan_cur(const char *dir, const char *name, size_t namelen)
{
    char *cur = xasprintf("%s/cur", dir), *p = NULL;
    DIR *d = opendir(cur);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strncmp(de->d_name, name, namelen) == 0 &&
            (de->d_name[namelen] == ':' || de->d_name[namelen] == 0)) {
            p = xasprintf("%s/%s", cur, de->d_name);
            break;
        }
    if (d)
        closedir(d);
    free(cur);
    if (!p)
        errno = ENOENT;
    return p;
}

char *ms_locate(const char *dir, const char *name, size_t namelen, uint32_t flags, uint64_t keywords)
{
    char *p = xasprintf("%s/new/%.*s", dir, (int)namelen, name);
    if (is_file(p))
        return p;
    free(p);
    p = ms_cur_path(dir, name, namelen, flags, keywords);
    if (is_file(p))
        return p;
    free(p);
    return scan_cur(dir, name, namelen);
}
