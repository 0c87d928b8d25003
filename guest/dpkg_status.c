/* dpkg's status file: paragraphs separated by blank lines, each with a
 * "Package:" line and a "Status: WANT FLAG STATE" line. */
#include "dpkg_status.h"

#include <string.h>

int p2v_dpkg_installed(const char *status, const char *pkg)
{
    size_t k = strlen(pkg);
    if (!status || !k)
        return 0;
    for (const char *p = strstr(status, "Package: "); p; p = strstr(p + 1, "Package: ")) {
        if (p != status && p[-1] != '\n')
            continue;
        const char *name = p + 9;
        if (strncmp(name, pkg, k) != 0 || (name[k] != '\n' && name[k] != '\0'))
            continue;
        const char *end = strstr(p, "\n\n");
        const char *st = strstr(p, "\nStatus: install ok installed");
        if (st && (!end || st < end)) {
            char after = st[strlen("\nStatus: install ok installed")];
            if (after == '\n' || after == '\0')
                return 1;
        }
    }
    return 0;
}
