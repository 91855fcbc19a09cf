/* libFuzzer target: the input is an optimizer-state file (a safetensors file with the
 * metadata "lagrad.optimizer" and "step"). It is loaded by each kind of optimizer over a
 * small store; a load that succeeds is followed by one step, which must leave no undefined
 * behaviour (a step count near INT64_MAX once overflowed) and allocate nothing more. */
#include "fuzz_util.h"
#include "lagrad/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(data, size);
    lg_params *p = lg_params_new(); /* outside the budget: the store is the caller's */
    if (!p || !lg_params_add(p, "w", LG_F32, 2, (int64_t[]){2, 3}) ||
        !lg_params_add(p, "d", LG_F64, 1, (int64_t[]){2}))
        abort();
    const lg_optim_kind kinds[4] = {LG_OPTIM_ADAM, LG_OPTIM_ADAMW, LG_OPTIM_SGD, LG_OPTIM_SGD};
    for (int k = 0; k < 4; k++) {
        lg_optim_config cfg = lg_optim_defaults(kinds[k]);
        cfg.momentum = k == 2 ? 0.9 : 0;
        cfg.weight_decay = k == 3 ? 0.1 : cfg.weight_decay;
        lg_optim *o = lg_optim_new(p, &cfg);
        if (!o)
            abort();
        fuzz_begin();
        lg_status s = lg_optim_load(o, path);
        if (s != LG_OK && strncmp(lg_last_errmsg(), "lg_", 3) != 0) {
            fprintf(stderr, "lg_optim_load returned %d with the message \"%s\"\n", (int)s,
                    lg_last_errmsg());
            abort();
        }
        if (s == LG_OK) {
            int64_t before = lg_optim_steps(o);
            if (before < 0 || before > LG_OPTIM_MAX_STEPS)
                abort();
            lg_status st = lg_optim_step(o);
            if (st != LG_OK && !(st == LG_ERR_STATE && before == LG_OPTIM_MAX_STEPS))
                abort();
        }
        fuzz_end(size, "fuzz_optim_state");
        lg_optim_free(o);
    }
    lg_params_free(p);
    return 0;
}
