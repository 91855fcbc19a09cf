/* The seeded counter-based RNG's state: a seed and how many draws were taken. The draws
 * themselves (backend/rng_draw.h) are computed by the backend's rng_fill. */
#include "../backend/rng_draw.h"

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
    return lg_rng_unit(r->seed, r->counter++);
}

/* Host tensors (every caller-owned tensor, and the graphs of the host backends) are
 * filled by the process's default backend. */
void lg_rng_fill_uniform(lg_rng *r, lg_dtype dt, void *data, int64_t n, double lo, double hi)
{
    lg_backend_default()->rng_fill(LG_RNG_UNIFORM, dt, n, data, r->seed, r->counter, lo, hi);
    r->counter += (uint64_t)n;
}

void lg_rng_fill_normal(lg_rng *r, lg_dtype dt, void *data, int64_t n, double mean, double std)
{
    lg_backend_default()->rng_fill(LG_RNG_NORMAL, dt, n, data, r->seed, r->counter, mean, std);
    r->counter += 2 * (uint64_t)n;
}
