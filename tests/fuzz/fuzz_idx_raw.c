/* libFuzzer target: the input is an IDX file, raw (or gzip, when it starts with 1f 8b). */
#include "fuzz_idx_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_idx_file(data, size, "fuzz_idx_raw");
    return 0;
}
