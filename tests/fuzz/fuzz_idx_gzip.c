/* libFuzzer target: the input becomes a gzip file as fuzz_idx_gzip_file describes (raw
 * gzip bytes, or the rest compressed as one or two members, or cut short), then loads. */
#include "fuzz_idx_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    uint8_t *file = fuzz_idx_gzip_file(data, size, &len);
    if (!file)
        return 0;
    fuzz_idx_file(file, len, "fuzz_idx_gzip");
    free(file);
    return 0;
}
