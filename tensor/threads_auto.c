/* The default thread count (issue 12): while a program has not chosen one, lagrad runs on
 * every core while the cores are free and on one thread while another process competes for
 * them. Chosen explicitly (lg_set_num_threads, OMP_NUM_THREADS), nothing here acts.
 * Why: libgomp's waiting threads spin, so at 2 threads beside one busy process on 2 cores a
 * step waits for a descheduled partner (MLP: 9k samples/s against 104k at 1 thread), and
 * OMP_WAIT_POLICY=PASSIVE, which cures that, loses most of the 2-thread gain when quiet;
 * both are fixed when libgomp loads, before lagrad runs. The thread count is the lever left.
 * How: lg_graph_reset, once per training step, calls lg_threads_auto_tick. Every 0.25 s it
 * reads how long the calling thread waited for a CPU (run_delay in
 * /proc/thread-self/schedstat). Waiting more than 10% of the time at several threads means
 * the cores are shared: go to 1 thread. At 1 thread, a probe goes back to every core after
 * 2 s for 5 ms (at least one step), and keeps them if the wait stays low; each failed
 * probe doubles the next wait (at most 16 s), so a busy neighbour costs one slow step every
 * 16 s at worst. The first steps of a run are such a probe.
 * One thread steers: the first that calls lg_graph_reset. Others keep OpenMP's default.
 * Without /proc/thread-self/schedstat (not Linux, or a kernel without schedstats), the
 * OpenMP default stays. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <omp.h>
#include <cblas.h>
#include "tensor_impl.h"

enum { UNDECIDED = 0, AUTO = 1, OFF = 2 };

#define INTERVAL_S 0.25     /* between two measurements */
#define PROBE_S 0.005       /* a probe's measurement: a few quiet steps, or the one slow
                               step a busy neighbour makes at every core */
#define BUSY_FRACTION 0.10  /* run_delay / wall time that means "the cores are shared" */
#define PROBE_FIRST_S 2.0
#define PROBE_MAX_S 16.0

static atomic_int mode = UNDECIDED;
static atomic_int claimed; /* a thread steers */
static _Thread_local bool steering;

/* The steering thread's state (no other thread touches it). */
static lg_threads_auto_state st;
static double last_s;           /* time of the last measurement */
static long long last_delay_ns; /* run_delay then */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Nanoseconds the calling thread has waited on a run queue; false when unknown. */
static bool read_delay(long long *ns)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (!f)
        return false;
    long long run, delay;
    bool ok = fscanf(f, "%lld %lld", &run, &delay) == 2;
    fclose(f);
    *ns = delay;
    return ok;
}

lg_threads_auto_state lg_threads_auto_start(int all)
{
    return (lg_threads_auto_state){.all = all, .now = all, .probe_wait_s = PROBE_FIRST_S};
}

int lg_threads_auto_next(lg_threads_auto_state *s, double t, double busy)
{
    if (s->now > 1 && busy > BUSY_FRACTION) {
        s->now = 1;
        if (s->probing) /* a failed probe: wait twice as long for the next */
            s->probe_wait_s = s->probe_wait_s * 2 < PROBE_MAX_S ? s->probe_wait_s * 2
                                                                : PROBE_MAX_S;
        s->next_probe_s = t + s->probe_wait_s;
        s->probing = false;
    } else if (s->now > 1 && s->probing) {
        s->probing = false; /* the probe found free cores: stay */
        s->probe_wait_s = PROBE_FIRST_S;
    } else if (s->now == 1 && t >= s->next_probe_s) {
        s->now = s->all;
        s->probing = true;
    }
    return s->now;
}

/* Once per process: auto only when nobody chose a count and the wait can be measured. */
static int decide(void)
{
    long long d;
    int all = omp_get_max_threads();
    int m = getenv("OMP_NUM_THREADS") || all < 2 || !read_delay(&d) ? OFF : AUTO;
    int expected = UNDECIDED;
    atomic_compare_exchange_strong(&mode, &expected, m);
    return atomic_load(&mode);
}

void lg_threads_auto_off(void) { atomic_store(&mode, OFF); }

int lg_threads_adaptive(void)
{
    int m = atomic_load(&mode);
    return m == AUTO || (m == UNDECIDED && decide() == AUTO);
}

void lg_threads_auto_tick(void)
{
    int m = atomic_load_explicit(&mode, memory_order_relaxed);
    if (m == OFF || (m == UNDECIDED && decide() != AUTO))
        return;
    if (!steering) {
        int expected = 0;
        if (atomic_load_explicit(&claimed, memory_order_relaxed) ||
            !atomic_compare_exchange_strong(&claimed, &expected, 1))
            return;
        steering = true;
        st = lg_threads_auto_start(omp_get_max_threads());
        /* The start is a probe (every core, measured for PROBE_S) whose failure waits
         * PROBE_FIRST_S before the next one. */
        st.probing = true;
        st.probe_wait_s = PROBE_FIRST_S / 2;
        last_s = now_s();
        read_delay(&last_delay_ns);
        return;
    }
    double t = now_s();
    if (t - last_s < (st.probing ? PROBE_S : INTERVAL_S))
        return;
    long long d;
    if (!read_delay(&d))
        return;
    double busy = (double)(d - last_delay_ns) * 1e-9 / (t - last_s);
    last_s = t;
    last_delay_ns = d;
    if (atomic_load(&mode) != AUTO)
        return; /* lg_set_num_threads was called meanwhile: its count stands */
    int before = st.now;
    int n = lg_threads_auto_next(&st, t, busy);
    if (n != before) {
        omp_set_num_threads(n);
        openblas_set_num_threads(n);
    }
}
