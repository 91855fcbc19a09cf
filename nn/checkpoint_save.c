/* Writing safetensors checkpoints: the header is built and escaped by cJSON, the file is
 * written beside its destination and renamed over it once it is on disk. Reading and
 * validation are in checkpoint.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <zlib.h>
#include "lagrad/checkpoint.h"
#include "../tensor/tensor_impl.h"
#include "file_impl.h"

static const char fn[] = "lg_checkpoint_save";

/* The selector rule of nn.h; a NULL prefix picks everything. */
static bool has_prefix(const char *name, const char *prefix)
{
    return !prefix || lg_params_name_matches(prefix, name);
}

/* A JSON integer written exactly (cJSON prints numbers through a double). */
static bool add_int(cJSON *arr, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    cJSON *item = cJSON_CreateRaw(text);
    return item && cJSON_AddItemToArray(arr, item);
}

static bool add_tensor(cJSON *root, const char *name, const lg_tensor *t, uint64_t begin,
                       uint64_t end)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToObject(root, name, o)) {
        cJSON_Delete(o);
        return false;
    }
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
    static const char *const names[] = {"F32", "F64", "I32", "I64"}; /* by lg_dtype */
    bool ok = cJSON_AddStringToObject(o, "dtype", names[lg_tensor_dtype(t)])
              && shape && offs && add_int(offs, begin) && add_int(offs, end);
    for (int d = 0; ok && d < lg_tensor_ndim(t); d++)
        ok = add_int(shape, (uint64_t)lg_tensor_shape(t)[d]);
    return ok;
}

static size_t data_bytes(const lg_tensor *t)
{
    return (size_t)lg_tensor_numel(t) * lg_dtype_size(lg_tensor_dtype(t));
}

/* The CRC-32 of the data section: the saved tensors' bytes in order. */
static uint32_t data_crc(const lg_ckpt_item *items, int n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < n; i++)
        crc = crc32_z(crc, lg_tensor_cdata(items[i].t), data_bytes(items[i].t));
    return (uint32_t)crc;
}

/* The caller's pairs, then the checksum under LG_CHECKPOINT_CRC_KEY. */
static lg_status add_metadata(cJSON *root, const char *const *meta, int n_meta, uint32_t crc)
{
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    if (!m)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    for (int i = 0; i < n_meta; i++) {
        const char *k = meta[2 * i], *v = meta[2 * i + 1];
        if (!k || !v)
            return lg_set_error(LG_ERR_ARG, "%s: metadata pair %d has a NULL key or value", fn,
                                i);
        if (strcmp(k, LG_CHECKPOINT_CRC_KEY) == 0)
            return lg_set_error(LG_ERR_ARG, "%s: metadata key '%s' is reserved for the data "
                                "checksum", fn, k);
        if (cJSON_GetObjectItemCaseSensitive(m, k))
            return lg_set_error(LG_ERR_ARG, "%s: metadata key '%s' given twice", fn, k);
        if (!cJSON_AddStringToObject(m, k, v))
            return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    }
    char hex[9];
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)crc);
    if (!cJSON_AddStringToObject(m, LG_CHECKPOINT_CRC_KEY, hex))
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    return LG_OK;
}

/* The JSON header, allocated by cJSON (free with cJSON_free). */
static lg_status build_header(const lg_ckpt_item *items, int n, const char *const *meta,
                              int n_meta, char **json)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    lg_status s = add_metadata(root, meta, n_meta, data_crc(items, n));
    uint64_t off = 0;
    for (int i = 0; s == LG_OK && i < n; i++) {
        const char *name = items[i].name;
        const lg_tensor *t = items[i].t;
        if (strcmp(name, "__metadata__") == 0)
            s = lg_set_error(LG_ERR_ARG, "%s: a parameter named '__metadata__' cannot be "
                             "saved (the format reserves the name)", fn);
        uint64_t bytes = data_bytes(t);
        if (s == LG_OK && !add_tensor(root, name, t, off, off + bytes))
            s = lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
        off += bytes;
    }
    *json = s == LG_OK ? cJSON_PrintUnformatted(root) : NULL;
    if (s == LG_OK && !*json)
        s = lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    cJSON_Delete(root);
    return s;
}

static bool write_all(int fd, const void *buf, size_t n)
{
    const char *q = buf;
    while (n) {
        ssize_t w = write(fd, q, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        q += w;
        n -= (size_t)w;
    }
    return true;
}

/* Header length, header padded with spaces to a multiple of 8, then each tensor's data. */
static bool write_file(int fd, const lg_ckpt_item *items, int n, const char *json)
{
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    if (!write_all(fd, le, 8) || !write_all(fd, json, len) ||
        !write_all(fd, spaces, padded - len))
        return false;
    for (int i = 0; i < n; i++)
        if (!write_all(fd, lg_tensor_cdata(items[i].t), data_bytes(items[i].t)))
            return false;
    return true;
}

/* Makes the rename itself durable. Best effort: some file systems cannot sync a
 * directory, and the new file is complete either way. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if ((size_t)(slash - path) >= sizeof dir)
        return;
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NONBLOCK); /* never waits */
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes the file at a fresh temporary name (lg_tmp_create), syncs it and renames it to
 * path; removes the temporary file on failure. */
static lg_status write_and_rename(const lg_ckpt_item *items, int n, const char *json,
                                  const char *path)
{
    char *tmp;
    size_t tmp_bytes;
    lg_status s;
    int fd = lg_tmp_create(path, fn, &tmp, &tmp_bytes, &s);
    if (fd < 0)
        return s;
    const char *step = NULL;
    if (!write_file(fd, items, n, json))
        step = "write";
    else if (fsync(fd) != 0)
        step = "sync";
    int err = errno;
    if (close(fd) != 0 && !step) {
        step = "close";
        err = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "rename";
        err = errno;
    }
    if (step) {
        unlink(tmp);
        s = lg_set_error(LG_ERR_IO, "%s: cannot %s %s%s%s: %s", fn, step, tmp,
                         *step == 'r' ? " to " : "", *step == 'r' ? path : "",
                         strerror(err));
    } else {
        sync_dir(path);
    }
    lg_free(tmp, tmp_bytes);
    return s;
}

lg_status lg_checkpoint_write(const lg_ckpt_item *items, int n, const char *path,
                              const char *const *meta, int n_meta)
{
    const uint16_t one = 1;
    if (*(const unsigned char *)&one != 1)
        return lg_set_error(LG_ERR_UNSUPPORTED, "%s: big-endian hosts are not supported", fn);
    char *json = NULL;
    lg_status s = build_header(items, n, meta, n_meta, &json);
    if (s == LG_OK && strlen(json) + 7 > LG_CHECKPOINT_MAX_HEADER)
        s = lg_set_error(LG_ERR_UNSUPPORTED, "%s: the header would exceed %d bytes", fn,
                         LG_CHECKPOINT_MAX_HEADER);
    if (s == LG_OK)
        s = write_and_rename(items, n, json, path);
    cJSON_free(json);
    return s;
}

lg_status lg_checkpoint_save(const lg_params *p, const char *path, const char *prefix,
                             const char *const *meta, int n_meta)
{
    if (!p || !path || !*path || n_meta < 0 || (n_meta > 0 && !meta))
        return lg_set_error(LG_ERR_ARG, "%s: NULL store or path, or bad metadata count %d", fn,
                            n_meta);
    if (prefix && !*prefix)
        prefix = NULL;
    int count = lg_params_count(p), matched = 0;
    lg_ckpt_item *items = lg_malloc(sizeof *items * (size_t)(count ? count : 1));
    if (!items)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    for (int i = 0; i < count; i++)
        if (has_prefix(lg_params_name(p, i), prefix))
            items[matched++] = (lg_ckpt_item){lg_params_name(p, i), lg_params_at(p, i)};
    lg_status s = prefix && !matched
        ? lg_set_error(LG_ERR_ARG, "%s: no parameter matches the selector '%s' (whole name "
                       "components: \"fc.lora_*\", not \"fc.lora_\")", fn, prefix)
        : lg_checkpoint_write(items, matched, path, meta, n_meta);
    lg_free(items, sizeof *items * (size_t)(count ? count : 1));
    return s;
}
