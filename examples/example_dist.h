/* Shared by examples/cnn and examples/mnist_fit: data parallelism for lg_train_fit under
 * mpirun. Built with lagrad_dist (examples/CMakeLists.txt defines LAGRAD_EXAMPLE_MPI when
 * MPI was found), a program started by mpirun or mpiexec joins MPI_COMM_WORLD and hands
 * lg_train_fit the module's collectives; started any other way, or built without MPI, it
 * is one process and never touches MPI, exactly as before. Header-only. */
#ifndef LAGRAD_EXAMPLE_DIST_H
#define LAGRAD_EXAMPLE_DIST_H

#include <stdio.h>
#include <stdlib.h>
#include "lagrad/lagrad.h"
#ifdef LAGRAD_EXAMPLE_MPI
#include "lagrad/dist.h"
#endif

typedef struct example_dist {
    int rank, size;
    lg_train_parallel par;
#ifdef LAGRAD_EXAMPLE_MPI
    lg_dist *d;
#endif
} example_dist;

/* Joins MPI when a launcher started this process (OpenMPI, MPICH/Hydra and PMIx set these),
 * so a plain run needs no MPI runtime. 0 on success; 1 after a message on stderr. */
static inline int example_dist_begin(example_dist *e, int *argc, char ***argv,
                                     const char *prog)
{
    *e = (example_dist){.rank = 0, .size = 1};
#ifdef LAGRAD_EXAMPLE_MPI
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
        return 0;
    /* a rank waiting in a collective yields its core rather than spin, unless the caller
     * chose (docs/distributed.md); OpenMPI reads it at MPI_Init */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    MPI_Init(argc, argv);
    if (lg_dist_new(MPI_COMM_WORLD, &e->d) != LG_OK ||
        lg_dist_train_parallel(e->d, &e->par) != LG_OK) {
        fprintf(stderr, "%s: %s\n", prog, lg_last_errmsg());
        lg_dist_free(e->d);
        MPI_Finalize();
        return 1;
    }
    e->rank = e->par.rank;
    e->size = e->par.size;
#else
    (void)argc;
    (void)argv;
    (void)prog;
#endif
    return 0;
}

/* lg_train_options.parallel: the collectives with 2 or more processes; NULL alone. */
static inline const lg_train_parallel *example_dist_parallel(const example_dist *e)
{
    return e->size > 1 ? &e->par : NULL;
}

/* Collective under MPI: 0 when every rank passed ok != 0, else 1 on every rank (so none
 * goes on into lg_train_fit's collectives without the others). */
static inline int example_dist_failed(const example_dist *e, int ok)
{
#ifdef LAGRAD_EXAMPLE_MPI
    if (e->d)
        return lg_dist_agree(e->d, ok ? LG_OK : LG_ERR_ARG) != LG_OK;
#else
    (void)e;
#endif
    return !ok;
}

/* Leaves MPI (when joined). */
static inline void example_dist_end(example_dist *e)
{
#ifdef LAGRAD_EXAMPLE_MPI
    if (e->d) {
        lg_dist_free(e->d);
        MPI_Finalize();
    }
#else
    (void)e;
#endif
}

#endif
