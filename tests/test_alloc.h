/* A counting allocator for the tests, one that can also fail its k-th call: install it
 * with counter_allocator() and lg_set_allocator(), run the code, then check the counts.
 *
 *     counter c = {0};
 *     lg_allocator al = counter_allocator(&c);
 *     lg_set_allocator(&al);
 *     ...                                  // c.calls allocations so far
 *     c = (counter){.fail_at = k};         // the k-th allocation from now returns NULL
 *     ...
 *     assert_int_equal(c.live, 0);         // nothing leaked
 *     lg_set_allocator(NULL);
 *
 * Every call counts in `calls`, the failed one too. A block is allocated exactly (its size
 * rounded up to the alignment, so ASan still sees overruns) and the size the library gives
 * back on free is subtracted from live_bytes, so a wrong size shows there. */
#ifndef LAGRAD_TEST_ALLOC_H
#define LAGRAD_TEST_ALLOC_H

#include <stddef.h>
#include <stdlib.h>
#include "lagrad/lagrad.h"

typedef struct counter {
    long calls;        /* allocation calls, failed ones included */
    long live;         /* blocks allocated and not yet freed */
    long fail_at;      /* fail the call with this 1-based number; 0 never */
    size_t largest;    /* the largest size asked for and given */
    size_t live_bytes; /* bytes asked for in the live blocks */
    size_t peak_bytes; /* the most live_bytes has been */
} counter;

static inline void *count_alloc(void *ud, size_t size, size_t align)
{
    counter *c = ud;
    if (++c->calls == c->fail_at)
        return NULL;
    size_t rounded = (size + align - 1) / align * align;
    void *p = aligned_alloc(align, rounded ? rounded : align);
    if (p) {
        c->live++;
        c->live_bytes += size;
        if (c->live_bytes > c->peak_bytes)
            c->peak_bytes = c->live_bytes;
        if (size > c->largest)
            c->largest = size;
    }
    return p;
}

static inline void count_free(void *ud, void *p, size_t size)
{
    counter *c = ud;
    if (p) {
        c->live--;
        c->live_bytes -= size;
    }
    free(p);
}

/* An lg_allocator over c (which must outlive its use); lg_set_allocator copies it. */
static inline lg_allocator counter_allocator(counter *c)
{
    return (lg_allocator){count_alloc, count_free, c};
}

#endif
