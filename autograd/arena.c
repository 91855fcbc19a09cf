/* The graph's arenas: lists of chunks filled by bumping a pointer. Reset rewinds to the
 * first chunk and keeps them all, so a step that asks for the same sizes in the same
 * order as the last one is served without calling the allocator. There are two, so that
 * tensor data can live where the backend keeps it: `meta` (headers, nodes, attributes:
 * host memory from lg_malloc, read by the graph code) and `data` (tensor data and kernel
 * scratch: the backend's mem_alloc, handed only to its kernels). Together they stop at
 * the graph's limit (lg_graph_set_arena_limit) with a message that points at a forgotten
 * lg_graph_reset, the usual way a tape grows without end (issue 12). */
#include <stdint.h>
#include <string.h>
#include "graph_impl.h"

#define CHUNK_MIN ((size_t)1 << 20)

static size_t align_up(size_t n) { return (n + LG_ALIGN - 1) & ~(size_t)(LG_ALIGN - 1); }

static void *chunk_mem(const lg_graph *g, const lg_arena *a, size_t size)
{
    return a == &g->data ? g->be->mem_alloc(size) : lg_malloc(size);
}

static void chunk_mem_free(const lg_graph *g, const lg_arena *a, void *p, size_t size)
{
    if (a == &g->data)
        g->be->mem_free(p, size);
    else
        lg_free(p, size);
}

/* A chunk of at least `need` bytes, double the last one, but at most `cap` bytes when
 * cap >= need (near the arena limit, the chunk shrinks to what is left). */
static lg_chunk *new_chunk(const lg_graph *g, const lg_arena *a, size_t need, size_t last,
                           size_t cap)
{
    size_t size = last * 2 > CHUNK_MIN ? last * 2 : CHUNK_MIN;
    if (size > cap)
        size = cap;
    if (size < need)
        size = need;
    lg_chunk *c = lg_malloc(sizeof *c);
    if (!c)
        return NULL;
    c->mem = chunk_mem(g, a, size);
    if (!c->mem) {
        lg_free(c, sizeof *c);
        return NULL;
    }
    c->next = NULL;
    c->size = size;
    c->used = c->shift = 0;
    return c;
}

static void *arena_take(lg_graph *g, lg_arena *a, size_t size, const char *what)
{
    size = align_up(size ? size : 1);
    lg_chunk *c = a->cur;
    /* Move through the kept chunks first; chunks skipped here stay idle until reset. */
    while (c && c->size - c->used < size)
        c = c->next;
    if (!c) {
        size_t last = 0;
        lg_chunk *tail = a->chunks;
        while (tail && tail->next)
            tail = tail->next;
        if (tail)
            last = tail->size;
        /* Bytes the limit leaves (SIZE_MAX without a limit). */
        size_t left = !g->arena_limit ? SIZE_MAX
                      : g->arena_bytes < g->arena_limit ? g->arena_limit - g->arena_bytes : 0;
        if (size > left) {
            lg_fail(g, LG_ERR_OOM,
                    "%s: graph arena limit of %zu bytes reached: %zu bytes held, %lld ops "
                    "recorded since the last lg_graph_reset (call it every step, or raise "
                    "lg_graph_set_arena_limit)",
                    what, g->arena_limit, g->arena_bytes, (long long)g->nops);
            return NULL;
        }
        c = new_chunk(g, a, size, last, left);
        if (!c) {
            lg_fail(g, LG_ERR_OOM, "%s: out of memory allocating %zu bytes in the graph arena",
                    what, size);
            return NULL;
        }
        if (tail)
            tail->next = c;
        else
            a->chunks = c;
        g->arena_bytes += c->size;
    }
    a->cur = c;
    void *p = c->mem + c->used;
    c->used += size;
    return p;
}

void *lg_arena_alloc(lg_graph *g, size_t size, const char *what)
{
    return arena_take(g, &g->meta, size, what);
}

void *lg_arena_data(lg_graph *g, size_t size, const char *what)
{
    return arena_take(g, &g->data, size, what);
}

/* The next epoch starts each chunk `shift` bytes in, a triangle wave over the epochs in
 * steps of LG_ALIGN that never takes more than the room the last epoch left in the chunk.
 * So a step that records what the last one did lays its tensors out the same way, with
 * the same chunks (no new allocation), but every address moved by exactly LG_ALIGN: a
 * tensor handle kept from the last step never equals a live one (a header is longer than
 * LG_ALIGN), and lg_backward on it is LG_ERR_STATE (issue 14: it was the new loss). */
static void rewind_one(const lg_graph *g, lg_arena *a)
{
    for (lg_chunk *c = a->chunks; c; c = c->next) {
        size_t content = c->used - c->shift, slack = c->size - content;
        size_t k = slack / LG_ALIGN < 63 ? slack / LG_ALIGN : 63; /* most steps of shift */
        size_t pos = k ? (size_t)(g->epoch % (2 * k)) : 0;
        c->shift = (pos <= k ? pos : 2 * k - pos) * LG_ALIGN;
        c->used = c->shift;
    }
    a->cur = a->chunks;
}

void lg_arena_rewind(lg_graph *g)
{
    rewind_one(g, &g->meta);
    rewind_one(g, &g->data);
}

lg_arena_mark lg_arena_mark_now(const lg_arena *a)
{
    return (lg_arena_mark){a->cur, a->cur ? a->cur->used : 0};
}

/* Allocation only moves forward from cur, so what came after the mark lies in the marked
 * chunk past `used` and in the chunks after it, which go back to this epoch's start. */
void lg_arena_truncate(lg_arena *a, const lg_arena_mark *m)
{
    lg_chunk *c = a->chunks;
    if (m->cur) {
        m->cur->used = m->used;
        c = m->cur->next;
    }
    for (; c; c = c->next)
        c->used = c->shift;
    a->cur = m->cur ? m->cur : a->chunks;
}

static void release_one(const lg_graph *g, lg_arena *a)
{
    lg_chunk *c = a->chunks;
    while (c) {
        lg_chunk *next = c->next;
        chunk_mem_free(g, a, c->mem, c->size);
        lg_free(c, sizeof *c);
        c = next;
    }
    a->chunks = a->cur = NULL;
}

void lg_arena_release(lg_graph *g)
{
    release_one(g, &g->meta);
    release_one(g, &g->data);
    g->arena_bytes = 0;
}
