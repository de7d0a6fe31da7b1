/* sketch.c: the key hash and the HyperLogLog that discovery and the
 * detectors share (util.h). */
#include "util.h"

#include <math.h>

uint64_t pawl__sketch_hash(pawl_str s)
{
    /* a fixed seed: estimates are the same from run to run, and the
     * detectors' state file stays valid across restarts */
    uint64_t h = pawl__hash64(0x7061776c736b6574ull, s.p, s.n);
    return h ? h : 1;
}

void pawl__hll_add(uint8_t *reg, unsigned bits, uint64_t h)
{
    unsigned idx = (unsigned)(h >> (64 - bits));
    uint64_t rest = h << bits;
    uint8_t rank = 1;
    while (rank <= 64 - bits && !(rest & (1ull << 63))) {
        rank++;
        rest <<= 1;
    }
    if (rank > reg[idx])
        reg[idx] = rank;
}

double pawl__hll_count(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    double sum = 0, m = (double)(1u << bits);
    unsigned zeros = 0;
    for (unsigned i = 0; i < 1u << bits; i++) {
        uint8_t r = b && b[i] > a[i] ? b[i] : a[i];
        sum += ldexp(1.0, -r);
        zeros += r == 0;
    }
    double alpha = bits == 4 ? 0.673 : bits == 5 ? 0.697 : bits == 6 ? 0.709 : 0.7213 / (1 + 1.079 / m);
    double est = alpha * m * m / sum;
    return est <= 2.5 * m && zeros > 0 ? m * log(m / zeros) : est; /* small range: linear counting */
}
