"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/{idx,csv,npy}/):
small valid files and typical broken ones.  Run: /usr/bin/python3 tests/fuzz/make_corpus.py"""
import gzip, io, os, struct, zipfile
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(kind, name, data):
    d = os.path.join(root, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(code, arr):
    arr = np.asarray(arr)
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


# IDX: each type, some broken
put("idx", "u8_2x3", idx(0x08, np.arange(6, dtype=np.uint8).reshape(2, 3)))
put("idx", "i8", idx(0x09, np.array([-1, 2, -3], dtype=np.int8)))
put("idx", "i16", idx(0x0B, np.array([-300, 2], dtype=np.int16)))
put("idx", "i32_2x2", idx(0x0C, np.array([[1, -2], [70000, 4]], dtype=np.int32)))
put("idx", "f32", idx(0x0D, np.array([1.5, -2.25], dtype=np.float32)))
put("idx", "f64_3d", idx(0x0E, np.arange(8, dtype=np.float64).reshape(2, 2, 2)))
put("idx", "labels", idx(0x08, np.array([9, 0, 0, 3], dtype=np.uint8)))
put("idx", "scalar", bytes([0, 0, 8, 0, 7]))
put("idx", "bad_magic", b"\x01\x00\x08\x01\x00\x00\x00\x01\x05")
put("idx", "bad_type", b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")
put("idx", "truncated", idx(0x08, np.arange(10, dtype=np.uint8))[:-3])
put("idx", "trailing", idx(0x08, np.arange(3, dtype=np.uint8)) + b"xx")
put("idx", "huge_sizes", b"\x00\x00\x0d\x03\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x10")
put("idx", "short_header", b"\x00\x00\x08\x04\x00\x00")
put("idx", "gzip", gzip.compress(idx(0x08, np.arange(4, dtype=np.uint8)), mtime=0))

# CSV: the first byte is the fuzz target's option byte
# bits 0-1 sep (, ; tab |), bit 2 header, bits 3-4 label (none number category classes),
# bits 5-6 missing (error drop zero mean), bit 7 custom NA strings
def csv(name, cfg, text):
    put("csv", name, bytes([cfg]) + text.encode())

csv("plain", 0, "1,2,3\n4,5,6\n")
csv("header_number_label", 4 | 8, "a,b,y\n1.5,2e3,0.5\n-4,5.25,1\n")
csv("category", 4 | 16, "x1,x2,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n")
csv("classes", 4 | 24, "x,cls\n1,a\n2,c\n3,b\n")
csv("quoted", 4 | 16, 'n,"label, with comma"\n"1.5","a ""q"" b"\n2,"multi\nline"\n')
csv("tsv", 2 | 4, "a\tb\n1\t2\n3\t4\n")
csv("semicolon_crlf", 1 | 4, "a;b\r\n1;2\r\n\r\n3;4\r\n")
csv("missing_mean", 4 | 0x60, "a,b\n1,\n,4\n3,NA\n")
csv("missing_drop", 4 | 0x20, "a,b\n1,?\n2,3\n")
csv("missing_zero", 0x40, "1,nan\n,2\n")
csv("custom_na", 0x80 | 0x40, "1,-\nmissing,2\n")
csv("specials", 0, "inf,-Infinity\nNaN,+3\n1e-400,1e400\n")
csv("ragged", 4, "a,b,c\n1,2,3\n4,5\n")
csv("too_many", 0, "1,2\n3,4,5\n")
csv("non_numeric", 4, "a,b\n1,x\n")
csv("unterminated", 0, '1,"abc\n')
csv("empty", 0, "")
csv("header_only", 4, "a,b,c\n")
csv("long_digits", 0, "12345678901234567890123,0.000000000000000000000001234\n")
csv("bom", 4, "\ufeffa,b\n1,2\n")

# NPY and NPZ
def npy(arr, fortran=False):
    b = io.BytesIO()
    np.save(b, np.asfortranarray(arr) if fortran else arr)
    return b.getvalue()

put("npy", "f4_2x3", npy(np.arange(6, dtype=np.float32).reshape(2, 3)))
put("npy", "f8_fortran", npy(np.arange(6, dtype=np.float64).reshape(2, 3), fortran=True))
put("npy", "i8_be", npy(np.array([1, -2, 3], dtype=">i8")))
put("npy", "u2", npy(np.array([1, 65535], dtype=np.uint16)))
put("npy", "u8", npy(np.array([1, 2**63 - 1], dtype=np.uint64)))
put("npy", "bool", npy(np.array([True, False])))
put("npy", "f2", npy(np.array([0.5, -1], dtype=np.float16)))
put("npy", "scalar", npy(np.float32(3.5)))
put("npy", "empty", npy(np.zeros((0, 3), dtype=np.int32)))
put("npy", "truncated", npy(np.arange(10, dtype=np.int32))[:-5])
put("npy", "bad_magic", b"\x93NUMPX\x01\x00" + npy(np.arange(2))[8:])
put("npy", "complex", npy(np.array([1 + 2j])))
put("npy", "structured", npy(np.zeros(2, dtype=[("a", "<i4")])))
b = io.BytesIO()
np.savez(b, x=np.arange(4, dtype=np.float32), y=np.array([1, 0], dtype=np.int64))
put("npy", "stored.npz", b.getvalue())
b = io.BytesIO()
np.savez_compressed(b, x=np.arange(12, dtype=np.float64).reshape(3, 4), labels=np.array([2, 1], dtype=np.uint8))
put("npy", "deflated.npz", b.getvalue())
put("npy", "truncated.npz", b.getvalue()[:-30])
