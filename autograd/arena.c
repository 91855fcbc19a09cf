/* The graph's arena: a list of chunks filled by bumping a pointer. Reset rewinds to the
 * first chunk and keeps them all, so a step that asks for the same sizes in the same
 * order as the last one is served without calling the allocator. */
#include <string.h>
#include "graph_impl.h"

#define CHUNK_MIN ((size_t)1 << 20)

static size_t align_up(size_t n) { return (n + LG_ALIGN - 1) & ~(size_t)(LG_ALIGN - 1); }

static lg_chunk *new_chunk(size_t need, size_t last)
{
    size_t size = last * 2 > CHUNK_MIN ? last * 2 : CHUNK_MIN;
    if (size < need)
        size = need;
    lg_chunk *c = lg_malloc(sizeof *c);
    if (!c)
        return NULL;
    c->mem = lg_malloc(size);
    if (!c->mem) {
        lg_free(c, sizeof *c);
        return NULL;
    }
    c->next = NULL;
    c->size = size;
    c->used = c->shift = 0;
    return c;
}

void *lg_arena_alloc(lg_graph *g, size_t size, const char *what)
{
    size = align_up(size ? size : 1);
    lg_chunk *c = g->cur;
    /* Move through the kept chunks first; chunks skipped here stay idle until reset. */
    while (c && c->size - c->used < size)
        c = c->next;
    if (!c) {
        size_t last = 0;
        lg_chunk *tail = g->chunks;
        while (tail && tail->next)
            tail = tail->next;
        if (tail)
            last = tail->size;
        c = new_chunk(size, last);
        if (!c) {
            lg_fail(g, LG_ERR_OOM, "%s: out of memory allocating %zu bytes in the graph arena",
                    what, size);
            return NULL;
        }
        if (tail)
            tail->next = c;
        else
            g->chunks = c;
        g->arena_bytes += c->size;
    }
    g->cur = c;
    void *p = c->mem + c->used;
    c->used += size;
    return p;
}

/* The next epoch starts each chunk `shift` bytes in, a triangle wave over the epochs in
 * steps of LG_ALIGN that never takes more than the room the last epoch left in the chunk.
 * So a step that records what the last one did lays its tensors out the same way, with
 * the same chunks (no new allocation), but every address moved by exactly LG_ALIGN: a
 * tensor handle kept from the last step never equals a live one (a header is longer than
 * LG_ALIGN), and lg_backward on it is LG_ERR_STATE (issue 14: it was the new loss). */
void lg_arena_rewind(lg_graph *g)
{
    for (lg_chunk *c = g->chunks; c; c = c->next) {
        size_t content = c->used - c->shift, slack = c->size - content;
        size_t k = slack / LG_ALIGN < 63 ? slack / LG_ALIGN : 63; /* most steps of shift */
        size_t pos = k ? (size_t)(g->epoch % (2 * k)) : 0;
        c->shift = (pos <= k ? pos : 2 * k - pos) * LG_ALIGN;
        c->used = c->shift;
    }
    g->cur = g->chunks;
}

void lg_arena_release(lg_graph *g)
{
    lg_chunk *c = g->chunks;
    while (c) {
        lg_chunk *next = c->next;
        lg_free(c->mem, c->size);
        lg_free(c, sizeof *c);
        c = next;
    }
    g->chunks = g->cur = NULL;
    g->arena_bytes = 0;
}
