/* libFuzzer driver for pawld's admin DELETE /blocks query decoder: any
 * bytes, into a buffer with no room to spare; it never writes past it and
 * an accepted query always decodes to something. */
#include <stdlib.h>
#include <string.h>

#include "admin_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = size > 0 ? data[0] % 64 : 0, n = 0;
    char *out = malloc(cap ? cap : 1);
    bool principal;
    if (out == NULL)
        return 0;
    bool ok = pawld_unblock_query((pawl_str){(const char *)data, size}, &principal, out, cap, &n);
    if ((ok && (n == 0 || n > cap)) || (!ok && n > cap))
        abort();
    free(out);
    return 0;
}
