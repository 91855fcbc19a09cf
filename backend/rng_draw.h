/* Internal: the counter-based generator's draws, shared by every backend's rng_fill so that
 * a seed gives the same numbers on each. Draw i is a hash of (seed, i): any element can be
 * computed on its own, the same bits at every thread count. */
#ifndef LAGRAD_RNG_DRAW_H
#define LAGRAD_RNG_DRAW_H

#include <math.h>
#include <stdint.h>
#include "backend_impl.h"

/* SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mixer. */
static inline uint64_t lg_rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double lg_rng_unit(uint64_t seed, uint64_t i)
{
    uint64_t bits = lg_rng_mix64(lg_rng_mix64(seed + 0x9e3779b97f4a7c15ULL) ^
                                 (i * 0xd1b54a32d192ed03ULL));
    return (double)(bits >> 11) * 0x1.0p-53;
}

/* Element i of rng_fill(k, ..., seed, counter, a, b) (see lg_rng_kind). */
static inline double lg_rng_value(lg_rng_kind k, uint64_t seed, uint64_t counter, int64_t i,
                                  double a, double b)
{
    if (k == LG_RNG_NORMAL) { /* Box-Muller on the pair (2i, 2i+1): no state between elements */
        double u1 = 1.0 - lg_rng_unit(seed, counter + 2 * (uint64_t)i); /* (0, 1] */
        double u2 = lg_rng_unit(seed, counter + 2 * (uint64_t)i + 1);
        return a + b * (sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
    double u = lg_rng_unit(seed, counter + (uint64_t)i);
    if (k == LG_RNG_KEEP_MASK)
        return u < a ? 0.0 : b;
    return a + (b - a) * u;
}

#endif
