"""A tiny safetensors reader and writer in json + numpy, for test_checkpoint.c.

  safetensors_interop.py write PATH      writes the tensors below for lagrad to load
  safetensors_interop.py write-crc PATH  the same, with the data's CRC-32 in the metadata
  safetensors_interop.py check PATH      reads a file lagrad wrote and checks every byte

The checksum is zlib.crc32 of the data section as 8 lowercase hex digits under the
metadata key CRC_KEY (LG_CHECKPOINT_CRC_KEY in checkpoint.h); files written by PyTorch
lack it, like those of plain "write".

Both sides fill their tensors with value(i, salt) below, computed the same way in C
(one IEEE division, then one rounding to float32 where the dtype is F32), with special
values (-0, +-inf, NaN, the smallest subnormal) in front, so a byte compare is exact.
Exit status 0 means every check passed; otherwise a message says which failed.
"""
import json
import struct
import sys
import zlib

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}


def values(n, salt, dtype):
    i = np.arange(n, dtype=np.int64)
    v = ((i * 7919 + salt * 104729) % 1000 - 500).astype(np.float64) / 37.0
    special = [-0.0, np.inf, -np.inf, np.nan,
               1e-45 if dtype == "F32" else 5e-324]
    k = min(n, len(special))
    v[:k] = special[:k]
    return v.astype(DTYPES[dtype])


# What Python writes: name -> (dtype, shape, salt). Keys go out in this order, data in
# reverse order, so a reader cannot assume one follows the other.
PY_TENSORS = {
    "encoder.weight": ("F32", (3, 5), 1),
    "encoder.bias": ("F32", (3,), 2),
    "head.w64": ("F64", (2, 2, 2), 3),
    "scalar": ("F64", (), 4),
}

# What the C test saves: name -> (dtype, shape, salt), in the store's order.
C_TENSORS = {
    "layer.weight": ("F32", (4, 6), 11),
    "layer.bias": ("F32", (4,), 12),
    "scale": ("F64", (2, 3), 13),
    "empty": ("F32", (0, 3), 14),
}
CRC_KEY = "lagrad.crc32"
C_METADATA = {"framework": "lagrad", "note": "quote \" and backslash \\ and \u00e9"}


def write(path, with_crc=False):
    blobs, offsets, pos = {}, {}, 0
    for name in reversed(list(PY_TENSORS)):
        dtype, shape, salt = PY_TENSORS[name]
        b = values(int(np.prod(shape, dtype=np.int64)), salt, dtype).tobytes()
        blobs[name] = b
        offsets[name] = (pos, pos + len(b))
        pos += len(b)
    header = {"__metadata__": {"format": "pt", "source": "numpy"}}
    if with_crc:
        body = b"".join(blobs[name] for name in reversed(list(PY_TENSORS)))
        header["__metadata__"][CRC_KEY] = "%08x" % zlib.crc32(body)
    for name, (dtype, shape, _) in PY_TENSORS.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": list(offsets[name])}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name in reversed(list(PY_TENSORS)):
            f.write(blobs[name])


def fail(msg):
    print("safetensors_interop check: " + msg)
    sys.exit(1)


def check(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    if n % 8 or 8 + n > len(data):
        fail("header length %d is not a multiple of 8 or runs past the file" % n)
    raw = data[8:8 + n]
    if raw.rstrip(b" ") != raw.rstrip():
        fail("header padding is not spaces")
    header = json.loads(raw)
    meta = header.pop("__metadata__", {})
    crc = meta.pop(CRC_KEY, None)
    if meta != C_METADATA:
        fail("metadata differs")
    if crc != "%08x" % zlib.crc32(data[8 + n:]):
        fail("%s is %s, zlib.crc32 of the data gives %08x" % (CRC_KEY, crc,
                                                              zlib.crc32(data[8 + n:])))
    if list(header) != list(C_TENSORS):
        fail("names %s, want %s" % (list(header), list(C_TENSORS)))
    body, pos = data[8 + n:], 0
    for name, (dtype, shape, salt) in C_TENSORS.items():
        info = header[name]
        if info["dtype"] != dtype or tuple(info["shape"]) != shape:
            fail("%s is %s %s, want %s %s" % (name, info["dtype"], info["shape"], dtype, shape))
        b, e = info["data_offsets"]
        if b != pos:
            fail("%s starts at %d, want %d (tensors in store order, no gaps)" % (name, b, pos))
        want = values(int(np.prod(shape, dtype=np.int64)), salt, dtype).tobytes()
        if body[b:e] != want:
            fail("%s: bytes differ" % name)
        got = np.frombuffer(body[b:e], dtype=DTYPES[dtype]).reshape(shape)
        if got.shape != shape:
            fail("%s: numpy reads shape %s" % (name, got.shape))
        pos = e
    if pos != len(body):
        fail("%d bytes of data after the last tensor" % (len(body) - pos))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "write-crc", "check"):
        sys.exit("usage: safetensors_interop.py write|write-crc|check PATH")
    if sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        write(sys.argv[2], with_crc=sys.argv[1] == "write-crc")
