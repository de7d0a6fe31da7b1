/* see admin_query.h */
#include "admin_query.h"

#include <string.h>

#include "util.h"

bool pawld_unblock_query(pawl_str query, bool *principal, char *out, size_t cap, size_t *n)
{
    static const char pk[] = "principal=", ak[] = "address=";
    *principal = query.n >= sizeof pk - 1 && memcmp(query.p, pk, sizeof pk - 1) == 0;
    bool address = query.n >= sizeof ak - 1 && memcmp(query.p, ak, sizeof ak - 1) == 0;
    size_t skip = *principal ? sizeof pk - 1 : sizeof ak - 1;
    *n = 0;
    if (!*principal && !address)
        return false;
    for (size_t i = skip; i < query.n; i++) {
        uint8_t byte = (uint8_t)query.p[i];
        if (*n == cap || byte == '&' ||
            (byte == '%' && (i + 2 >= query.n || pawl__unhex(query.p + i + 1, 2, &byte, 1) != PAWL_OK)))
            return false;
        if (query.p[i] == '%')
            i += 2;
        out[(*n)++] = (char)byte;
    }
    return *n > 0;
}
