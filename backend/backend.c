/* The registry of backends a graph can run on, the process default, and the memory
 * entries every host backend shares. A backend is a folder beside this file (cpu/,
 * reference/); docs/backends.md says how to add one. */
#include <stdlib.h>
#include <string.h>
#include "backend_impl.h"

void *lg_host_alloc(size_t bytes) { return lg_malloc(bytes); }
void lg_host_free(void *p, size_t bytes) { lg_free(p, bytes); }
void lg_host_copy(lg_copy_kind k, void *dst, const void *src, size_t bytes)
{
    (void)k; /* host to host in every direction */
    if (bytes)
        memmove(dst, src, bytes);
}

/* Every backend built in, by name. */
static const lg_backend *(*const registry[])(void) = {lg_cpu_backend, lg_reference_backend};
enum { N_BACKENDS = sizeof registry / sizeof registry[0] };

const lg_backend *lg_backend_get(const char *name)
{
    for (int i = 0; name && i < N_BACKENDS; i++)
        if (!strcmp(registry[i]()->name, name))
            return registry[i]();
    char known[128] = "";
    for (int i = 0; i < N_BACKENDS; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, registry[i]()->name, sizeof known - strlen(known) - 1);
    }
    lg_set_error(LG_ERR_ARG, "lg_backend_get: no backend named '%.40s' (there are: %s)",
                 name ? name : "(null)", known);
    return NULL;
}

const lg_backend *lg_backend_default(void)
{
    /* read at each call, which is cheap: a program that sets LAGRAD_BACKEND before making
     * its graphs gets it, and no lazy state needs a lock */
    const char *env = getenv("LAGRAD_BACKEND");
    const lg_backend *b = NULL;
    for (int i = 0; env && *env && i < N_BACKENDS; i++)
        if (!strcmp(registry[i]()->name, env))
            b = registry[i]();
    return b ? b : lg_cpu_backend();
}

const char *lg_backend_name(const lg_backend *b) { return b ? b->name : "invalid"; }
lg_device lg_backend_device(const lg_backend *b) { return b ? b->device : LG_DEVICE_HOST; }
