#!/usr/bin/python3
"""tests/reference/safetensors_min.py: a minimal safetensors reader and writer (stdlib only).

Debian has no python3-safetensors, so the reference scripts write their fixtures with this
module, which follows the format's specification directly:
  8-byte little-endian header length N; N bytes of JSON
  {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...},
  padded with spaces to a multiple of 8; then the data region, which the tensors tile exactly.
The writer lays tensors out like the reference implementation (larger dtypes first, then by
name). It is also loom's independent check: `dump FILE` reads a file (for example one loom
wrote) with this reader and prints its contents as JSON, which tests/nn/safetensors_test.cpp
compares with what loom meant to write.

A tensor here is (dtype, shape, raw bytes); `from_torch`/`to_torch` convert when torch is
available. Leaves out: memory mapping, dtypes other than F64 F32 F16 BF16 I64 I32 I8 U8 BOOL.

  /usr/bin/python3 tests/reference/safetensors_min.py dump FILE
"""
import json
import struct
import sys

DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I8": 1, "U8": 1, "BOOL": 1}
# BF16 has no struct code: its 16 bits are the top half of a float32 (see values()).
STRUCT_CODE = {"F64": "d", "F32": "f", "F16": "e", "BF16": "H", "I64": "q", "I32": "i", "I8": "b", "U8": "B",
               "BOOL": "?"}
MAX_HEADER = 100_000_000


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def encode(tensors, metadata=None):
    """tensors: {name: (dtype, shape, bytes)}; metadata: {str: str} or None. Returns the file bytes."""
    order = sorted(tensors, key=lambda name: (-DTYPE_SIZE[tensors[name][0]], name))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name in order:
        dtype, shape, data = tensors[name]
        assert len(data) == numel(shape) * DTYPE_SIZE[dtype], f"{name}: size does not match shape"
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(tensors[n][2] for n in order)


def save(path, tensors, metadata=None):
    with open(path, "wb") as f:
        f.write(encode(tensors, metadata))


def decode(blob, source="<bytes>"):
    """Returns ({name: (dtype, shape, bytes)}, metadata). Raises ValueError on any inconsistency."""
    if len(blob) < 8:
        raise ValueError(f"{source}: shorter than the header length field")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER or n > len(blob) - 8:
        raise ValueError(f"{source}: bad header length {n}")
    pairs = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=lambda kv: kv)
    names = [k for k, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: duplicate names")
    data = blob[8 + n:]
    tensors, metadata, spans = {}, {}, []
    for name, entry in pairs:
        entry = dict(entry)
        if name == "__metadata__":
            metadata = entry
            continue
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPE_SIZE:
            raise ValueError(f"{source}: tensor {name}: unsupported dtype {dtype}")
        if not 0 <= begin <= end <= len(data) or end - begin != numel(shape) * DTYPE_SIZE[dtype]:
            raise ValueError(f"{source}: tensor {name}: bad data_offsets {begin, end}")
        tensors[name] = (dtype, shape, bytes(data[begin:end]))
        spans.append((begin, end, name))
    covered = 0
    for begin, end, name in sorted(spans):
        if begin != covered:
            raise ValueError(f"{source}: tensor {name}: gap or overlap at {begin}")
        covered = end
    if covered != len(data):
        raise ValueError(f"{source}: data region not fully covered")
    return tensors, metadata


def load(path):
    with open(path, "rb") as f:
        return decode(f.read(), path)


def values(dtype, data):
    """The elements of a tensor's bytes as a flat Python list."""
    count = len(data) // DTYPE_SIZE[dtype]
    out = list(struct.unpack("<" + STRUCT_CODE[dtype] * count, data))
    if dtype == "BF16":  # the bits, shifted into the top half of a float32
        out = [struct.unpack("<f", struct.pack("<I", bits << 16))[0] for bits in out]
    return out


TORCH_TO_ST = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32", "int8": "I8",
               "uint8": "U8", "bool": "BOOL"}


def from_torch(t):
    """(dtype, shape, bytes) for a CPU torch tensor (made contiguous; little-endian host assumed)."""
    dtype = TORCH_TO_ST[str(t.dtype).replace("torch.", "")]
    t = t.detach().contiguous().cpu()
    return dtype, list(t.shape), t.numpy().tobytes()


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "dump":
        sys.exit("usage: safetensors_min.py dump FILE")
    tensors, metadata = load(sys.argv[2])
    out = {"metadata": metadata,
           "tensors": {name: {"dtype": d, "shape": s, "values": values(d, b)} for name, (d, s, b) in tensors.items()}}
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
