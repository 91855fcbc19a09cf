/* Saving and loading an optimizer's state through a safetensors checkpoint, each moment
 * named after its parameter. Saving writes the optimizer's buffers in place (headers over
 * them, no copy: issue 16's peak memory); loading reads into a temporary store first, so
 * a bad file leaves the optimizer as it was. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "lagrad/checkpoint.h"
#include "file_impl.h"
#include "optim_impl.h"

/* Metadata keys of the state file, reserved in lg_optim_save. */
#define KIND_KEY "lagrad.optimizer"
#define STEP_KEY "step"
/* The CRC-32 of the kind and the step as written ("adam\0" "3"), 8 hex digits: the data
 * checksum of the file does not cover the header, and these two drive the update. */
#define SUM_KEY "lagrad.state_crc32"

static uint32_t header_sum(const char *kind, const char *step)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)kind, (uInt)strlen(kind) + 1);
    return (uint32_t)crc32(crc, (const Bytef *)step, (uInt)strlen(step));
}

static const char *kind_name(lg_optim_kind k)
{
    return k == LG_OPTIM_SGD ? "sgd" : k == LG_OPTIM_ADAM ? "adam" : "adamw";
}

/* The state buffers that exist for o: their names and per-dtype arrays. */
typedef struct state_slots {
    int n;
    const char *suffix[2];
    void *const *buf[2];
} state_slots;

static state_slots slots_of(const lg_optim *o)
{
    state_slots s = {0};
    if (o->c.kind == LG_OPTIM_SGD) {
        if (o->c.momentum > 0)
            s = (state_slots){1, {"momentum_buffer", NULL}, {o->m, NULL}};
    } else {
        s = (state_slots){2, {"exp_avg", "exp_avg_sq"}, {o->m, o->v}};
    }
    return s;
}

static lg_status check_store(const lg_optim *o, const char *fn)
{
    for (int d = 0; d < 2; d++)
        if (o->p->block[d].numel != o->numel[d])
            return lg_set_error(LG_ERR_STATE, "%s: the store grew after the optimizer was "
                                "made", fn);
    return LG_OK;
}

/* The state as checkpoint items over the optimizer's own buffers, one per (slot,
 * parameter) in that order: a header per moment (copied from its parameter's, the data
 * pointer moved to the moment) and its name "<name>.<suffix>" (the suffixes differ in
 * their ends, so the names cannot collide), all in one allocation of *bytes bytes (free
 * with lg_free). Saving writes these; loading fills a store made from them, then copies. */
static lg_status state_items(const lg_optim *o, const state_slots *s, const char *fn,
                             lg_ckpt_item **out, int *count, size_t *bytes)
{
    int n = 0;
    size_t names = 0;
    for (int k = 0; k < s->n; k++)
        for (int i = 0; i < o->p->n; i++)
            if (o->p->entries[i].g) { /* integer buffers have no state */
                n++;
                names += strlen(o->p->entries[i].name) + strlen(s->suffix[k]) + 2;
            }
    *bytes = (sizeof(lg_ckpt_item) + sizeof(lg_tensor)) * (size_t)n + names + 1;
    lg_ckpt_item *items = lg_malloc(*bytes);
    if (!items)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    lg_tensor *hdr = (lg_tensor *)(items + n);
    char *name = (char *)(hdr + n);
    int j = 0;
    for (int k = 0; k < s->n; k++)
        for (int i = 0; i < o->p->n; i++) {
            const lg_param_entry *e = &o->p->entries[i];
            if (!e->g)
                continue;
            size_t es = lg_dtype_size(e->t->dtype);
            hdr[j] = *e->t;
            hdr[j].data = (char *)s->buf[k][e->t->dtype] + (size_t)e->offset * es;
            int len = sprintf(name, "%s.%s", e->name, s->suffix[k]);
            items[j] = (lg_ckpt_item){name, &hdr[j]};
            name += len + 1;
            j++;
        }
    *out = items;
    *count = n;
    return LG_OK;
}

/* *out gets a store with a tensor per item, named and shaped like it. */
static lg_status state_store(const lg_ckpt_item *items, int n, const char *fn, lg_params **out)
{
    lg_params *st = lg_params_new();
    *out = NULL;
    if (!st)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    for (int j = 0; j < n; j++) {
        const lg_tensor *t = items[j].t;
        /* the name is unique and the shape valid: only memory can fail */
        if (!lg_params_add(st, items[j].name, t->dtype, t->ndim, t->shape)) {
            lg_params_free(st);
            return lg_set_error(LG_ERR_OOM, "%s: out of memory for %s", fn, items[j].name);
        }
    }
    *out = st;
    return LG_OK;
}

/* Copies the store state_store made from the items into the optimizer's buffers. */
static void copy_state(const lg_ckpt_item *items, int n, lg_params *st)
{
    for (int j = 0; j < n; j++) {
        const lg_tensor *t = items[j].t;
        memcpy(t->data, lg_tensor_cdata(lg_params_at(st, j)),
               (size_t)t->numel * lg_dtype_size(t->dtype));
    }
}

lg_status lg_optim_save(const lg_optim *o, const char *path, const char *const *meta,
                        int n_meta)
{
    static const char fn[] = "lg_optim_save";
    if (!o || !path || n_meta < 0 || n_meta > (INT_MAX - 6) / 2 || (n_meta > 0 && !meta))
        return lg_set_error(LG_ERR_ARG, "%s: NULL optimizer, path or metadata, or %d metadata "
                            "pairs", fn, n_meta);
    for (int i = 0; i < n_meta; i++)
        if (meta[2 * i] && (!strcmp(meta[2 * i], KIND_KEY) || !strcmp(meta[2 * i], STEP_KEY) ||
                            !strcmp(meta[2 * i], SUM_KEY)))
            return lg_set_error(LG_ERR_ARG, "%s: metadata key '%s' is reserved for the "
                                "optimizer state", fn, meta[2 * i]);
    lg_status st = check_store(o, fn);
    if (st != LG_OK)
        return st;
    state_slots s = slots_of(o);
    lg_ckpt_item *items = NULL;
    int n_items = 0;
    size_t items_bytes = 0;
    if ((st = state_items(o, &s, fn, &items, &n_items, &items_bytes)) != LG_OK)
        return st;

    const char **all = lg_malloc(sizeof *all * (size_t)(2 * n_meta + 6));
    if (!all) {
        lg_free(items, items_bytes);
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    }
    char step[24];
    snprintf(step, sizeof step, "%lld", (long long)o->steps);
    all[0] = KIND_KEY;
    all[1] = kind_name(o->c.kind);
    all[2] = STEP_KEY;
    all[3] = step;
    char sum[12];
    snprintf(sum, sizeof sum, "%08lx", (unsigned long)header_sum(all[1], step));
    all[4] = SUM_KEY;
    all[5] = sum;
    if (n_meta)
        memcpy(all + 6, meta, sizeof *all * (size_t)(2 * n_meta));
    st = lg_checkpoint_write(items, n_items, path, all, n_meta + 3);
    lg_free(all, sizeof *all * (size_t)(2 * n_meta + 6));
    lg_free(items, items_bytes);
    return st;
}

/* The "step" of an open file, or -1 when it is missing or not a canonical decimal in
 * [0, LG_OPTIM_MAX_STEPS]: digits only (no sign, space or leading zero), so every number
 * the file supplies is range-checked before use (issue 14: a step of 2^63 - 1 overflowed
 * at the next update). */
static long long read_step(const lg_checkpoint *c)
{
    const char *v = lg_checkpoint_metadata_get(c, STEP_KEY);
    if (!v || !*v || (v[0] == '0' && v[1]) || strlen(v) > 16)
        return -1;
    long long n = 0;
    for (const char *q = v; *q; q++) {
        if (*q < '0' || *q > '9')
            return -1;
        n = 10 * n + (*q - '0'); /* at most 16 digits: no overflow */
    }
    return n <= LG_OPTIM_MAX_STEPS ? n : -1;
}

/* Every moment read from a file is a number, and every second moment is >= 0, as the
 * updates make them; anything else would turn the parameters into NaN at the next step. */
static lg_status check_moments(const lg_params *store, const char *fn, const char *path)
{
    for (int i = 0; i < lg_params_count(store); i++) {
        const lg_tensor *t = lg_params_at(store, i);
        const char *name = lg_params_name(store, i);
        size_t len = strlen(name);
        bool sq = len >= 11 && strcmp(name + len - 11, ".exp_avg_sq") == 0;
        for (int64_t j = 0; j < t->numel; j++) {
            double x = t->dtype == LG_F32 ? (double)((const float *)t->data)[j]
                                          : ((const double *)t->data)[j];
            if (x != x || (sq && x < 0))
                return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s' element %lld is %g; "
                                    "a moment must be a number%s", fn, path, name, (long long)j,
                                    x, sq ? " >= 0" : "");
        }
    }
    return LG_OK;
}

/* When the file has SUM_KEY (lagrad writes it), the kind and step must still give it. */
static lg_status check_sum(const lg_checkpoint *c, const char *kind, const char *fn,
                           const char *path)
{
    const char *want = lg_checkpoint_metadata_get(c, SUM_KEY);
    if (!want)
        return LG_OK; /* written before the key existed, or by another tool */
    char got[12];
    snprintf(got, sizeof got, "%08lx",
             (unsigned long)header_sum(kind, lg_checkpoint_metadata_get(c, STEP_KEY)));
    if (strcmp(want, got) != 0)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: the optimizer header is corrupt: %s says "
                            "\"%.16s\", the kind and step give %s", fn, path, SUM_KEY, want,
                            got);
    return LG_OK;
}

lg_status lg_optim_load(lg_optim *o, const char *path)
{
    static const char fn[] = "lg_optim_load";
    if (!o || !path)
        return lg_set_error(LG_ERR_ARG, "%s: NULL %s", fn, o ? "path" : "optimizer");
    lg_status st = check_store(o, fn);
    if (st != LG_OK)
        return st;
    lg_checkpoint *c;
    if ((st = lg_checkpoint_open(path, &c)) != LG_OK)
        return st;
    const char *kind = lg_checkpoint_metadata_get(c, KIND_KEY);
    long long steps = read_step(c);
    state_slots s = slots_of(o);
    lg_params *store = NULL;
    lg_ckpt_item *items = NULL;
    int n_items = 0;
    size_t items_bytes = 0;
    if (!kind || strcmp(kind, kind_name(o->c.kind)) || steps < 0)
        st = lg_set_error(LG_ERR_FORMAT, "%s: %s holds %s%s%s, not the state of an %s "
                          "optimizer with a step count", fn, path,
                          kind ? "optimizer \"" : "no optimizer state", kind ? kind : "",
                          kind ? "\"" : "", kind_name(o->c.kind));
    else
        st = check_sum(c, kind, fn, path);
    if (st == LG_OK)
        st = state_items(o, &s, fn, &items, &n_items, &items_bytes);
    if (st == LG_OK)
        st = state_store(items, n_items, fn, &store);
    /* Every tensor is read from this one open file into the temporary store before the
     * optimizer changes: a save renamed over path meanwhile cannot mix two files. */
    int want = store ? lg_params_count(store) : 0;
    if (st == LG_OK && lg_checkpoint_count(c) != want)
        st = lg_set_error(LG_ERR_FORMAT, "%s: %s holds %d tensors, the optimizer state has %d",
                          fn, path, lg_checkpoint_count(c), want);
    for (int i = 0; st == LG_OK && i < want; i++)
        st = lg_checkpoint_read(c, lg_params_name(store, i), lg_params_at(store, i));
    if (st == LG_OK)
        st = check_moments(store, fn, path);
    if (st == LG_OK) {
        copy_state(items, n_items, store);
        o->steps = steps;
    }
    lg_checkpoint_close(c);
    lg_params_free(store);
    if (items)
        lg_free(items, items_bytes);
    return st;
}
