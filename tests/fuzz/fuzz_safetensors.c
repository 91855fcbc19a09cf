/* libFuzzer target: the input is a safetensors file. It is opened and listed, every
 * tensor lagrad can read is read into a tensor of the listed shape, and the file is loaded
 * into a small store (the seeds hold files that fit it), loosely, strictly and by prefix. */
#include "fuzz_util.h"
#include "lagrad/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* After a successful open, every listed tensor must be findable by name and readable. */
static void read_all(lg_checkpoint *c, size_t file_size)
{
    size_t total = 0;
    for (int i = 0; i < lg_checkpoint_count(c); i++) {
        lg_checkpoint_tensor t;
        if (lg_checkpoint_info(c, i, &t) != LG_OK || lg_checkpoint_find(c, t.name) != i)
            abort();
        total += t.nbytes;
        if (!t.supported || t.ndim > LG_MAX_DIMS)
            continue;
        lg_tensor *dst = lg_tensor_new(t.dtype, t.ndim, t.shape);
        if (!dst) /* a shape lagrad's tensors refuse, e.g. too many elements in all */
            continue;
        lg_status s = lg_checkpoint_read(c, t.name, dst);
        if (s != LG_OK) {
            fprintf(stderr, "tensor '%s' listed but not read: %s\n", t.name,
                    lg_last_errmsg());
            abort();
        }
        lg_tensor_free(dst);
    }
    if (total > file_size)
        abort();
    const char *k, *v;
    for (int i = 0; i < lg_checkpoint_metadata_count(c); i++)
        if (lg_checkpoint_metadata_at(c, i, &k, &v) != LG_OK ||
            lg_checkpoint_metadata_get(c, k) == NULL)
            abort();
}

static lg_params *small_store(void)
{
    lg_params *p = lg_params_new();
    if (!p || !lg_params_add(p, "w", LG_F32, 2, (int64_t[]){2, 3}) ||
        !lg_params_add(p, "b", LG_F32, 1, (int64_t[]){3}) ||
        !lg_params_add(p, "d", LG_F64, 1, (int64_t[]){2}))
        abort();
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(data, size);
    lg_params *p = small_store(); /* outside the budget: the store is the caller's */
    fuzz_begin();
    lg_checkpoint *c = (lg_checkpoint *)&c;
    lg_status s = lg_checkpoint_open(path, &c);
    fuzz_check_error(s, "lg_checkpoint_open");
    if ((s == LG_OK) != (c != NULL))
        abort();
    if (c)
        read_all(c, size);
    lg_checkpoint_close(c);
    fuzz_check_error(lg_checkpoint_load(p, path, NULL, false), "lg_checkpoint_load");
    fuzz_check_error(lg_checkpoint_load(p, path, NULL, true), "lg_checkpoint_load");
    fuzz_check_error(lg_checkpoint_load(p, path, "w", true), "lg_checkpoint_load");
    fuzz_end(size, "fuzz_safetensors");
    lg_params_free(p);
    return 0;
}
