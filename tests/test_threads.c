/* Issue 14, item 9: lg_set_num_threads. A request OpenBLAS would clamp (10000 became 64,
 * silently, with LG_OK) is refused with the limit named and nothing changed; the OpenMP
 * count is per thread, as core.h now says: a new pthread starts from OMP_NUM_THREADS and
 * sets its own. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "test_util.h"

static void test_set_num_threads_refuses_what_openblas_would_clamp(void **state)
{
    (void)state;
    assert_int_equal(lg_set_num_threads(2), LG_OK);
    assert_int_equal(lg_set_num_threads(10000), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "at most"));
    assert_non_null(strstr(lg_last_errmsg(), "10000"));
    assert_int_equal(lg_get_num_threads(), 2); /* nothing changed */
    assert_int_equal(lg_set_num_threads(0), LG_ERR_ARG);
    assert_int_equal(lg_set_num_threads(-3), LG_ERR_ARG);
    assert_int_equal(lg_get_num_threads(), 2);
}

typedef struct seen {
    int at_start, after_set;
} seen;

static void *thread_main(void *p)
{
    seen *s = p;
    s->at_start = lg_get_num_threads();
    s->after_set = lg_set_num_threads(3) == LG_OK ? lg_get_num_threads() : -1;
    return NULL;
}

/* The count is per thread: the new thread starts from the environment's count, and its
 * own setting does not reach the main thread. */
static void test_num_threads_is_per_thread_as_documented(void **state)
{
    (void)state;
    const char *env = getenv("OMP_NUM_THREADS");
    assert_int_equal(lg_set_num_threads(1), LG_OK);
    seen s = {0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, thread_main, &s), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    print_message("    main thread 1; new thread started at %d (OMP_NUM_THREADS=%s), set 3\n",
                  s.at_start, env ? env : "unset");
    if (env)
        assert_int_equal(s.at_start, atoi(env));
    assert_int_equal(s.after_set, 3);
    assert_int_equal(lg_get_num_threads(), 1);
    assert_int_equal(lg_set_num_threads(2), LG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_num_threads_refuses_what_openblas_would_clamp),
        cmocka_unit_test(test_num_threads_is_per_thread_as_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
