/* idn.c - domain names to their A-label form (see idn.h). */
#include "idn.h"
#include "mem.h"
#include <ctype.h>
#include <stdbool.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

char *idn_domain_ascii(const char *domain)
{
    bool ascii = true;
    for (const char *p = domain; *p; p++)
        if ((unsigned char)*p >= 0x80)
            ascii = false;
    if (!ascii) {
        char *out = NULL;
        /* IDNA2008 after the UTS #46 mapping, non-transitional (case folding, width
         * forms, the ideographic full stops as '.', ignored code points dropped; a
         * sharp s stays itself): doc/smtpd.md, "Internationalized domains". */
        if (idn2_to_ascii_8z(domain, &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK)
            return NULL;
        char *copy = xstrdup(out);
        idn2_free(out);
        for (char *p = copy; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        return copy;
    }
    char *copy = xstrdup(domain);
    for (char *p = copy; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return copy;
}

bool idn_ldh_name(const char *s, size_t max)
{
    size_t len = strlen(s), label = 0;
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i <= len; i++) {
        char c = s[i];
        if (c == '.' || c == 0) {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0);
        if (!ok)
            return false;
        label++;
    }
    return true;
}
