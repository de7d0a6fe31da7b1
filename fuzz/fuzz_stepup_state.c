/* libFuzzer driver for pawld's step-up state file (pawld_replay_load, as
 * step_up.state is read at start): any bytes into a record of 64 ids at a
 * fixed time. A refusal always says why; what loads dumps again into a
 * file that loads back to the same live ids into a record of another
 * random key sized as pawld sizes it (four times the ids). */
#include <stdlib.h>
#include <string.h>

#include "stepup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { NOW = 1800000000 };
    struct pawld_replay r, back;
    char err[200] = "";
    size_t cut = 0, n = 0, n2 = 0;
    if (pawld_replay_init(&r, 64) != 0)
        return 0;
    long got = pawld_replay_load(&r, data, size, NOW, &cut, err, sizeof err);
    if (got < 0 && err[0] == '\0')
        abort();
    if (got >= 0) {
        if (cut >= PAWLD_REPLAY_ENTRY || (size_t)got * PAWLD_REPLAY_ENTRY + cut + PAWLD_REPLAY_MAGIC_LEN != size)
            abort();
        uint8_t *bytes = pawld_replay_dump(&r, NOW, &n);
        /* as pawld sizes it at start: room for four times the ids */
        if (bytes != NULL && pawld_replay_init(&back, 4 * (n / PAWLD_REPLAY_ENTRY)) == 0) {
            if (pawld_replay_load(&back, bytes, n, NOW, &cut, err, sizeof err) < 0 || cut != 0)
                abort();
            uint8_t *again = pawld_replay_dump(&back, NOW, &n2);
            if (again != NULL && n2 != n)
                abort();
            free(again);
            pawld_replay_free(&back);
        }
        free(bytes);
    }
    pawld_replay_free(&r);
    return 0;
}
