/* CPU optimizer updates (SGD with momentum and Nesterov, Adam, AdamW): the formulas are on
 * lg_optim_hyper in backend_impl.h. */
#include <float.h>
#include <omp.h>
#include <tgmath.h>
#include "cpu_impl.h"

/* Built for AVX-512, AVX2 and the baseline, picked at load time: sqrt and divide
 * dominate Adam, and the baseline's SSE2 does 4 of them at a time (the MLP step at batch 1
 * spent half its time here). Each clone computes the same bits: every operation is
 * correctly rounded and ISO C mode does not contract a*b+c into an FMA. */
#define OPTIM_CLONES LG_CPU_CLONES
#define TMIN_f32 FLT_MIN
#define TMIN_f64 DBL_MIN

#define LG_CPU_KERNELS "cpu_optim.inc"
#include "cpu_each_type.h"

/* A step over at least this many elements is split over all OpenMP threads; below it a
 * parallel region costs more than the update. */
enum { PARALLEL_MIN = 65536 };

typedef struct share_args {
    const lg_optim_hyper *h;
    lg_dtype dt;
    int nseg;
    const lg_optim_seg *seg;
} share_args;

/* Thread t of tn updates the t-th of tn equal slices of every segment, edges on multiples
 * of 16 elements (whole vectors). Slicing each parameter, not the store as a whole, hands
 * a thread the same rows of a weight that OpenMP's static split gave it in the gradient
 * kernels, so the gradients it reads are still in its own core's cache: the batch-1 MLP
 * step on 2 threads went from 7.8k to 8.8k samples/s. */
static void update_share(const share_args *a, int64_t t, int64_t tn)
{
    for (int i = 0; i < a->nseg; i++) {
        int64_t n = a->seg[i].n;
        int64_t lo = n * t / tn / 16 * 16, hi = t + 1 == tn ? n : n * (t + 1) / tn / 16 * 16;
        if (lo >= hi)
            continue;
        if (a->dt == LG_F32)
            update_f32(a->h, &a->seg[i], lo, hi);
        else
            update_f64(a->h, &a->seg[i], lo, hi);
    }
}

void lg_cpu_optim_update(const lg_optim_hyper *h, lg_dtype dt, int nseg,
                         const lg_optim_seg *seg)
{
    share_args a = {h, dt, nseg, seg};
    int64_t total = 0;
    for (int i = 0; i < nseg; i++)
        total += seg[i].n;
    if (total < PARALLEL_MIN || omp_get_max_threads() < 2) {
        update_share(&a, 0, 1);
        return;
    }
    /* One region for the whole step, not one per parameter: no thread waits while another
     * updates a parameter too small to split. */
#pragma omp parallel
    update_share(&a, omp_get_thread_num(), omp_get_num_threads());
}
