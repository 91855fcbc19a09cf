#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (seeds/) and the hand-made hostile inputs of the
regression corpus (regress/), all small. Standard library only; run from anywhere:

    python3 tests/fuzz/make_corpus.py

seeds/idx_raw, seeds/safetensors, seeds/optim_state and regress/idx, regress/safetensors,
regress/optim_state hold files exactly as the loaders read them; seeds/idx_gzip and regress/idx_gzip hold inputs of the gzip target,
whose first byte says how the rest becomes a gzip file (fuzz_idx_gzip_file in
fuzz_inputs.h). Inputs the fuzzers find are added to regress/ by hand, next to these.
"""
import gzip
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(sub, name, data):
    d = os.path.join(HERE, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(dims, data=None, type_code=0x08):
    n = 1
    for d in dims:
        n *= d
    if data is None:
        data = bytes(i * 37 % 256 for i in range(n))
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def gz(data, level=6):
    return gzip.compress(data, compresslevel=level, mtime=0)


def safetensors(tensors, meta=None, crc=True, order=None, header_len=None, pad=True):
    """tensors: name -> (dtype, shape, bytes). Data goes out in `order` (default: as given)."""
    order = order or list(tensors)
    offsets, pos, body = {}, 0, b""
    for name in order:
        b = tensors[name][2]
        offsets[name] = [pos, pos + len(b)]
        pos += len(b)
        body += b
    header = {}
    if meta is not None or crc:
        header["__metadata__"] = dict(meta or {})
        if crc:
            header["__metadata__"]["lagrad.crc32"] = "%08x" % zlib.crc32(body)
    for name, (dtype, shape, _) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets[name]}
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    n = len(h) if header_len is None else header_len
    return struct.pack("<Q", n) + h + body


def raw_header(text, data=b"", n=None):
    h = text.encode()
    return struct.pack("<Q", len(h) if n is None else n) + h + data


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def f64(*v):
    return struct.pack("<%dd" % len(v), *v)


def seeds():
    labels, images = idx([10], bytes(range(10))), idx([2, 4, 4])
    put("seeds/idx_raw", "labels-10", labels)
    put("seeds/idx_raw", "images-2x4x4", images)
    put("seeds/idx_raw", "matrix-3x5", idx([3, 5]))
    put("seeds/idx_raw", "tensor-1x2x2x2", idx([1, 2, 2, 2]))
    put("seeds/idx_raw", "images-2x4x4.gz", gz(images))
    put("seeds/idx_gzip", "labels-level1", b"\x01" + labels)       # one member, level 0
    put("seeds/idx_gzip", "images-level9", b"\x25" + images)       # 0x25: level 9
    put("seeds/idx_gzip", "matrix-2-members", b"\x0a" + idx([3, 5]))  # split after 2 bytes
    put("seeds/idx_gzip", "labels-cut", b"\x03" + labels)          # cut 1 byte short
    put("seeds/idx_gzip", "labels-raw-gz", b"\x00" + gz(labels))   # gzip bytes as they are
    store = {"w": ("F32", [2, 3], f32(1, 2, 3, 4, 5, 6)), "b": ("F32", [3], f32(-1, 0, 1)),
             "d": ("F64", [2], f64(0.5, -0.25))}
    put("seeds/safetensors", "store.st", safetensors(store, meta={"epoch": "3"}))
    put("seeds/safetensors", "store-nocrc-reversed.st",
        safetensors(store, crc=False, order=["d", "b", "w"]))
    put("seeds/safetensors", "other-dtypes.st", safetensors({
        "h": ("BF16", [2], b"\x80\x3f\x00\x40"), "i": ("I64", [1], struct.pack("<q", -7)),
        "s": ("F32", [], f32(2.5)), "e": ("U8", [0, 4], b""),
        "t": ("F64", [1, 1, 1, 1, 1, 1, 1], f64(3.0))}))
    put("seeds/safetensors", "empty.st", safetensors({}, crc=False))
    put("seeds/safetensors", "meta-only.st", safetensors({}, meta={"format": "pt"}, crc=False))


def regress():
    labels = idx([10], bytes(range(10)))
    r = "regress/idx"
    put(r, "empty", b"")
    put(r, "magic-only", b"\x00\x00\x08\x03")
    put(r, "truncated-header", b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00")
    put(r, "bad-magic", b"\x01\x00\x08\x01\x00\x00\x00\x01\x00")
    put(r, "unknown-type", b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    put(r, "float32-type", idx([2], b"\x00" * 8, type_code=0x0D))
    put(r, "ndim-0", b"\x00\x00\x08\x00")
    put(r, "ndim-5", idx([1, 1, 1, 1, 1]))
    put(r, "zero-dim", idx([3, 0], b""))
    put(r, "dim-2to31", idx([0x80000000], b"\x00"))
    put(r, "huge-dims", idx([0x7FFFFFFF] * 4, b"\x00" * 16))
    put(r, "lying-1000x1000x1000", idx([1000, 1000, 1000], b"\x00" * 16))
    put(r, "data-short", labels[:-1])
    put(r, "data-long", labels + b"\x00")
    put(r, "gz-lying-2to31.gz", gz(idx([32768, 65536], b"\x00" * 64)))
    good = gz(labels)
    put(r, "gz-truncated.gz", good[:-5])
    put(r, "gz-bad-crc.gz", good[:-8] + bytes([good[-8] ^ 1]) + good[-7:])
    put(r, "gz-bad-size.gz", good[:-4] + bytes([good[-4] ^ 1]) + good[-3:])
    put(r, "gz-corrupt-deflate.gz", good[:12] + b"\xff\xff\xff" + good[15:])
    put(r, "gz-magic-only.gz", b"\x1f\x8b")
    put(r, "gz-trailing-garbage.gz", good + b"garbage")
    put(r, "gz-short-member-then-more.gz", gz(labels[:7]) + gz(labels[7:] + b"\x00"))
    r = "regress/idx_gzip"
    put(r, "cut-64-lying-header", b"\xff" + idx([60000, 28, 28], b"\x00" * 100))
    put(r, "two-members-long", b"\x0e" + labels + b"\x01")
    r = "regress/safetensors"
    store = {"w": ("F32", [2, 3], f32(1, 2, 3, 4, 5, 6)), "b": ("F32", [3], f32(-1, 0, 1))}
    good = safetensors(store)
    put(r, "empty", b"")
    put(r, "length-only", struct.pack("<Q", 0))
    put(r, "truncated-data", good[:-3])
    put(r, "trailing-data", good + b"\x00" * 4)
    put(r, "header-len-2to63", raw_header("{}", n=1 << 63))
    put(r, "header-len-over-limit", raw_header("{}", n=100000001))
    put(r, "header-len-past-end", raw_header("{}", n=64))
    put(r, "not-json", raw_header("{\"w\": {\"dtype\": \"F32\", "))
    put(r, "json-array", raw_header("[1, 2, 3]"))
    put(r, "nul-in-header", raw_header("{}\x00      "))
    put(r, "deep-nesting", raw_header("{\"a\":" + "[" * 5000 + "]" * 5000 + "}"))
    put(r, "trailing-json", raw_header("{} {}"))
    put(r, "bad-dtype", raw_header('{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}',
                                   b"\x00" * 4))
    put(r, "dtype-not-string", raw_header('{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}',
                                          b"\x00" * 4))
    put(r, "overlap", raw_header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                 '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
                                 b"\x00" * 12))
    put(r, "same-range", raw_header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                    '"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
                                    b"\x00" * 4))
    put(r, "hole", raw_header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                              '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
                              b"\x00" * 12))
    put(r, "offsets-reversed", raw_header('{"a":{"dtype":"F32","shape":[1],'
                                          '"data_offsets":[4,0]}}', b"\x00" * 4))
    put(r, "offsets-past-end", raw_header('{"a":{"dtype":"F32","shape":[4],'
                                          '"data_offsets":[0,16]}}', b"\x00" * 4))
    put(r, "offsets-2to64", raw_header('{"a":{"dtype":"F32","shape":[1],'
                                       '"data_offsets":[18446744073709551612,'
                                       '18446744073709551616]}}', b"\x00" * 4))
    put(r, "offsets-negative", raw_header('{"a":{"dtype":"F32","shape":[1],'
                                          '"data_offsets":[-4,0]}}', b"\x00" * 4))
    put(r, "offsets-fractional", raw_header('{"a":{"dtype":"F32","shape":[1],'
                                            '"data_offsets":[0,4.5]}}', b"\x00" * 4))
    put(r, "size-mismatch", raw_header('{"a":{"dtype":"F64","shape":[1],'
                                       '"data_offsets":[0,4]}}', b"\x00" * 4))
    put(r, "huge-shape", raw_header('{"a":{"dtype":"F32","shape":[9007199254740992,'
                                    '9007199254740992],"data_offsets":[0,4]}}', b"\x00" * 4))
    put(r, "shape-wraps-to-4-bytes", raw_header(
        '{"a":{"dtype":"F32","shape":[4611686018427387905,4],"data_offsets":[0,4]}}',
        b"\x00" * 4))
    put(r, "shape-65-dims", raw_header('{"a":{"dtype":"F32","shape":[' + ",".join(["1"] * 65)
                                       + '],"data_offsets":[0,4]}}', b"\x00" * 4))
    put(r, "shape-negative", raw_header('{"a":{"dtype":"F32","shape":[-1],'
                                        '"data_offsets":[0,4]}}', b"\x00" * 4))
    put(r, "duplicate-name", raw_header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                        '"a":{"dtype":"F32","shape":[1],'
                                        '"data_offsets":[4,8]}}', b"\x00" * 8))
    put(r, "metadata-twice", raw_header('{"__metadata__":{},"__metadata__":{}}'))
    put(r, "metadata-not-string", raw_header('{"__metadata__":{"k":1}}'))
    put(r, "crc-mismatch", good[:-1] + bytes([good[-1] ^ 0x80]))
    bad = good.replace(b'"lagrad.crc32":"', b'"lagrad.crc32":"z', 1)
    put(r, "crc-malformed", struct.pack("<Q", struct.unpack("<Q", bad[:8])[0] + 1) + bad[8:])
    # found by fuzz_safetensors: an empty tensor whose other dimensions overflow its
    # strides (UBSan in lg_tensor_new on the listed shape); now refused
    put(r, "zero-numel-overflowing-dims", raw_header(
        '{"a":{"dtype":"F32","shape":[0,9007199254740992,9007199254740992,4],'
        '"data_offsets":[0,0]}}'))
    # valid: an empty tensor whose other dimensions multiply to exactly 2^62
    put(r, "ok-zero-numel-large-dims", raw_header(
        '{"a":{"dtype":"F32","shape":[0,2147483648,2147483648],"data_offsets":[0,0]},'
        '"__metadata__":{"lagrad.crc32":"00000000"}}'))
    put(r, "many-members", raw_header("{" + ",".join('"%d":0' % i for i in range(2000)) + "}"))
    # issue 14: what cJSON accepts but the format does not
    t = '"dtype":"F32","shape":%s,"data_offsets":%s'
    put(r, "escaped-nul-name", raw_header('{"w\\u0000evil":{' + t % ("[1]", "[0,4]") + '}}',
                                          b"\x00" * 4))
    put(r, "escaped-nul-crc", raw_header('{"__metadata__":{"lagrad.crc32":"2144df1c\\u0000zzz"},'
                                         '"w":{' + t % ("[1]", "[0,4]") + '}}', b"\x00" * 4))
    put(r, "float-offset", raw_header('{"w":{' + t % ("[1]", "[0.0,4]") + '}}', b"\x00" * 4))
    put(r, "float-dim", raw_header('{"w":{' + t % ("[1.0]", "[0,4]") + '}}', b"\x00" * 4))
    put(r, "exponent-dim", raw_header('{"w":{' + t % ("[1e0]", "[0,4]") + '}}', b"\x00" * 4))
    put(r, "negative-zero-offset", raw_header('{"w":{' + t % ("[1]", "[-0,4]") + '}}',
                                              b"\x00" * 4))
    put(r, "utf8-bom", struct.pack("<Q", 5) + b"\xef\xbb\xbf{}")
    h = b'{"\xff":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    put(r, "invalid-utf8-name", struct.pack("<Q", len(h)) + h + b"\x00" * 4)
    put(r, "lone-surrogate-name", raw_header('{"\\ud800":{' + t % ("[1]", "[0,4]") + '}}',
                                             b"\x00" * 4))

def optim():
    """Optimizer-state files (lg_optim_load) for a store with "w" F32 (2,3) and "d" F64 (2):
    seeds for fuzz_optim_state, and hostile headers for the regression corpus."""
    def state(kind, step, moments=("exp_avg", "exp_avg_sq"), values=None):
        t = {}
        for m in moments:
            t["w." + m] = ("F32", [2, 3], f32(*(values or [0.5] * 6)))
        for m in moments:
            t["d." + m] = ("F64", [2], f64(0.25, 0.125))
        return safetensors(t, meta={"lagrad.optimizer": kind, "step": step})
    put("seeds/optim_state", "adam-3.st", state("adam", "3"))
    put("seeds/optim_state", "adamw-1.st", state("adamw", "1"))
    put("seeds/optim_state", "sgd-momentum-7.st", state("sgd", "7", ("momentum_buffer",)))
    put("seeds/optim_state", "sgd-plain-0.st", state("sgd", "0", ()))
    r = "regress/optim_state"
    put(r, "step-int64-max", state("adam", "9223372036854775807"))
    put(r, "step-2-53-plus-1", state("adam", "9007199254740993"))
    put(r, "step-leading-space", state("adam", " 3"))
    put(r, "step-plus-sign", state("adam", "+3"))
    put(r, "step-leading-zero", state("adam", "03"))
    put(r, "step-negative", state("adam", "-1"))
    put(r, "negative-exp-avg-sq", state("adam", "2", values=[0.5, 0.5, 0.5, -1, 0.5, 0.5]))
    put(r, "nan-moment", state("sgd", "2", ("momentum_buffer",),
                               values=[0.5, float("nan"), 0.5, 0.5, 0.5, 0.5]))
    put(r, "kind-unknown", state("lbfgs", "2"))
    put(r, "ok-adam-max-step", state("adam", "9007199254740992"))


if __name__ == "__main__":
    seeds()
    regress()
    optim()
