/* The seeded counter-based RNG. Draw i is a hash of (seed, counter + i), so any element
 * can be computed independently: the same bits at every thread count. */
#include <math.h>
#include "../backend/backend_impl.h"

/* SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t draw_bits(uint64_t seed, uint64_t i)
{
    return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (i * 0xd1b54a32d192ed03ULL));
}

/* Uniform in [0, 1) with 53 random bits. */
static double draw_unit(uint64_t seed, uint64_t i)
{
    return (double)(draw_bits(seed, i) >> 11) * 0x1.0p-53;
}

void lg_rng_init(lg_rng *r, uint64_t seed)
{
    if (!r)
        return;
    r->seed = seed;
    r->counter = 0;
}

double lg_rng_uniform(lg_rng *r)
{
    if (!r)
        return 0.0;
    return draw_unit(r->seed, r->counter++);
}

void lg_rng_fill_uniform(lg_rng *r, lg_dtype dt, void *data, int64_t n, double lo, double hi)
{
    uint64_t seed = r->seed, base = r->counter;
    LG_PARALLEL_IF(n > LG_OMP_MIN,
        for (int64_t i = 0; i < n; i++)
            lg_store(data, dt, i, lo + (hi - lo) * draw_unit(seed, base + (uint64_t)i));
    );
    r->counter += (uint64_t)n;
}

/* Box-Muller on the pair of draws (2i, 2i+1): one normal per element, no caching, so
 * element i does not depend on how many came before it. */
void lg_rng_fill_normal(lg_rng *r, lg_dtype dt, void *data, int64_t n, double mean, double std)
{
    uint64_t seed = r->seed, base = r->counter;
    LG_PARALLEL_IF(n > LG_OMP_MIN,
        for (int64_t i = 0; i < n; i++) {
            double u1 = 1.0 - draw_unit(seed, base + 2 * (uint64_t)i); /* (0, 1] */
            double u2 = draw_unit(seed, base + 2 * (uint64_t)i + 1);
            double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
            lg_store(data, dt, i, mean + std * z);
        }
    );
    r->counter += 2 * (uint64_t)n;
}
