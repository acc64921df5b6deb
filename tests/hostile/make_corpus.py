#!/usr/bin/python3
"""Write the hostile-file corpus that spec/hostile_files_spec.lua runs.

    python3 tests/hostile/make_corpus.py OUTDIR

writes OUTDIR/<family>/<case files> and OUTDIR/cases.tsv, one case a line:

    family  id  reader  path  expect  setup  check

reader: the clara call (torch.load, jit.load, jit.forward, read_npz, ...);
expect: "ok" (loads), "err:TEXT" (a Lua error whose message holds TEXT),
or "any" (loads or raises a clean error: mutated files);
setup: Lua run before the call ("" or e.g. clara.limits.npz_bytes = 100);
check: a Lua expression on the result v that must be true ("" for none).

Families (the issue's section 1): pickle (shared and cyclic references,
nesting, length fields, tensors against storages, mutations), jit
(TorchScript archives: short storage records, deep data.pkl, deep code,
mutations), npz (overlapping entries, total size), special (a directory,
named pipe, socket or device given to every reader).  Only Python's
standard library is used; the TorchScript cases start from
spec/fixtures/tiny_model.pt.
"""

import os
import random
import socket
import struct
import sys
import zipfile
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TINY = os.path.join(ROOT, "spec", "fixtures", "tiny_model.pt")

OUT = sys.argv[1] if len(sys.argv) > 1 else "build/hostile"
CASES = []


def case(family, reader, path, expect, setup="", check=""):
    cid = "%s-%04d" % (family, sum(1 for c in CASES if c[0] == family) + 1)
    CASES.append((family, cid, reader, path, expect, setup, check))


def write(family, name, data):
    d = os.path.join(OUT, family)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


# {=================== pickles ===================

PROTO = b"\x80\x02"


def uni(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def put(i):
    return b"r" + struct.pack("<I", i)


def get(i):
    return b"j" + struct.pack("<I", i)


def tensor(key, numel, size, stride, offset=0, storage="FloatStorage"):
    """the opcodes torch.save writes for one tensor"""
    ints = lambda xs: b"(" + b"".join(b"J" + struct.pack("<i", x) for x in xs) + b"t"
    pid = (b"(" + uni("storage") + b"ctorch\n" + storage.encode() + b"\n" +
           uni(key) + uni("cpu") + b"J" + struct.pack("<i", numel) + b"tQ")
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"J" + struct.pack("<i", offset) +
            ints(size) + ints(stride) + b"\x89ccollections\nOrderedDict\n)RtR")


def torch_zip(pkl, records=None):
    """a torch.save archive around a data.pkl"""
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        for k, v in (records or {}).items():
            z.writestr("archive/data/" + k, v)
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


def nested_lists(n):   # n marks, the innermost list, n LIST: depth n + 1
    return b"(" * n + b"]" + b"l" * n


def nested_tuples(n):  # TUPLE1 n times around ()
    return b")" + b"\x85" * n


def nested_dicts(n):   # {"k": {"k": ... {}}}
    return (b"(" + uni("k")) * n + b"}" + b"d" * n


def top_down(n):
    """a chain of n lists built from the top: each new list appended to
    the last one through the memo, so no list is deep when appended"""
    out = [b"]" + put(0)]
    for i in range(1, n + 1):
        out.append(get(i - 1) + b"]" + put(i) + b"a0")
    return b"".join(out)


def doubling(n, kind="list"):
    """level i holds level i-1 twice: 2^n leaves if copied"""
    out = b"]" + put(0) + b"0"
    for i in range(1, n + 1):
        if kind == "list":
            out += b"(" + get(i - 1) + get(i - 1) + b"l"
        elif kind == "tuple":
            out += get(i - 1) + get(i - 1) + b"\x86"
        else:
            out += b"(" + uni("a") + get(i - 1) + uni("b") + get(i - 1) + b"d"
        out += put(i) + b"0"
    return out + get(n)


def pickle_family():
    F = "pickle"
    rec = {"0": struct.pack("<4f", 1, 2, 3, 4)}
    # 1. valid files load
    for n in (1, 2, 10, 100, 500, 999):
        case(F, "torch.load", write(F, "lists%d.pt" % n, torch_zip(PROTO + nested_lists(n) + b".")),
             "ok", "", "type(v) == 'table'")
        case(F, "torch.load", write(F, "tuples%d.pt" % n, torch_zip(PROTO + nested_tuples(n) + b".")),
             "ok", "", "type(v) == 'table'")
    for n in (1, 5, 20, 30, 40, 60, 100):
        for kind in ("list", "tuple", "dict"):
            check = "v[1] == v[2]" if kind != "dict" else "v.a == v.b"
            case(F, "torch.load", write(F, "double_%s%d.pt" % (kind, n),
                                        torch_zip(PROTO + doubling(n, kind) + b".")), "ok", "", check)
    t = tensor("0", 4, [2, 2], [2, 1])
    case(F, "torch.load", write(F, "tensor.pt", torch_zip(PROTO + t + b".", rec)), "ok", "",
         "v:size()[1] == 2 and v[2][2]:item() == 4")
    shared = PROTO + b"(" + t + put(0) + get(0) + b"l."
    case(F, "torch.load", write(F, "tensor_shared.pt", torch_zip(shared, rec)), "ok", "", "#v == 2")
    # 2. nesting past clara.limits.pickle_depth
    for n in (1001, 1500, 5000, 20000, 40000, 60000, 100000):
        case(F, "torch.load", write(F, "deep_lists%d.pt" % n, torch_zip(PROTO + nested_lists(n) + b".")),
             "err:pickle_depth")
        case(F, "torch.load", write(F, "deep_tuples%d.pt" % n, torch_zip(PROTO + nested_tuples(n) + b".")),
             "err:pickle_depth")
        case(F, "torch.load", write(F, "deep_dicts%d.pt" % n, torch_zip(PROTO + nested_dicts(n) + b".")),
             "err:pickle_depth")
        case(F, "torch.load", write(F, "top_down%d.pt" % n, torch_zip(PROTO + top_down(n) + b".")),
             "err:pickle_depth")
        # deep, but dropped from the stack: the memo still holds it
        case(F, "torch.load", write(F, "deep_popped%d.pt" % n,
                                    torch_zip(PROTO + nested_lists(n) + put(0) + b"0N.")), "err:pickle_depth")
        # deep values the pickle drops before STOP: popped, discarded by
        # POP_MARK, a BUILD state, REDUCE arguments, a replaced memo entry
        # or dict value, a bad STACK_GLOBAL name
        deep = nested_lists(n)
        drops = {
            "pop": deep + b"0N",
            "pop_mark": b"(" + deep + b"1N",
            "build": b"ccollections\nOrderedDict\n)R" + deep + b"b",
            "reduce": b"ccollections\nOrderedDict\n(" + deep + b"tR",
            "memo": top_down(n) + b"0" + b"".join(b"N" + put(i) + b"0" for i in range(n + 1)) + b"N",
            "dict": b"}" + uni("k") + deep + b"s" + uni("k") + b"Ns",
            "global": uni("m") + deep + b"\x93",
        }
        for what, body in drops.items():
            case(F, "torch.load", write(F, "deep_%s%d.pt" % (what, n), torch_zip(PROTO + body + b".")),
                 "err:data.pkl")
        # deep, then the file ends: taken apart without recursion
        case(F, "torch.load", write(F, "deep_truncated%d.pt" % n,
                                    torch_zip(PROTO + top_down(n))), "err:truncated")
    for n in (50, 200, 2000):
        case(F, "torch.load", write(F, "depth_limit%d.pt" % n, torch_zip(PROTO + nested_lists(n) + b".")),
             "err:pickle_depth", "clara.limits.pickle_depth = 40")
    # a deep key: hashed recursively, refused before it is
    case(F, "torch.load", write(F, "deep_key.pt", torch_zip(PROTO + b"}" + nested_tuples(5000) + b"Ns.")),
         "err:pickle_depth")
    # 3. cycles
    cycles = {
        "list_self": b"]" + put(0) + get(0) + b"a",
        "dict_self": b"}" + put(0) + uni("k") + get(0) + b"s",
        "list_pair": b"]" + put(0) + b"]" + put(1) + get(0) + b"a0" + get(1) + b"a",
        "tuple_list": b"]" + put(0) + get(0) + b"\x85a",
        "dict_list": b"]" + put(0) + b"}" + uni("x") + get(0) + b"sa",
        "appends_self": b"]" + put(0) + b"(" + get(0) + get(0) + b"e",
    }
    for name, body in cycles.items():
        for wrap in range(12):  # the cycle at several depths inside lists
            pk = PROTO + b"(" * wrap + body + b"l" * wrap + b"."
            case(F, "torch.load", write(F, "cycle_%s_%d.pt" % (name, wrap), torch_zip(pk)), "err:cyclic")
    long_cycle = b"]" + put(0)
    for i in range(1, 300):
        long_cycle += get(i - 1) + b"]" + put(i) + b"a0"
    long_cycle += get(299) + get(0) + b"a0"
    case(F, "torch.load", write(F, "cycle_long.pt", torch_zip(PROTO + long_cycle + b".")), "err:cyclic")
    # 4. length fields claiming more than the file holds
    lens = [1 << 8, 1 << 16, 1 << 20, 1500000000, (1 << 31) - 1, (1 << 32) - 1]
    for op, width in ((b"X", 4), (b"B", 4), (b"T", 4), (b"\x8d", 8), (b"\x8e", 8)):
        for n in lens + [1 << 40, (1 << 63) - 1, (1 << 64) - 1]:
            if width == 4 and n >= 1 << 32:
                continue
            fmt = "<I" if width == 4 else "<Q"
            pk = PROTO + op + struct.pack(fmt, n) + b"abc" * 10 + b"."
            case(F, "torch.load", write(F, "len_%02x_%d.pt" % (op[0], n), torch_zip(pk)), "err:truncated")
    for op in (b"\x8c", b"C", b"U"):
        for n in (4, 100, 255):
            pk = PROTO + op + bytes([n]) + b"ab"
            case(F, "torch.load", write(F, "len_%02x_%d.pt" % (op[0], n), torch_zip(pk)), "err:truncated")
    for n in (9, 20, 255):
        pk = PROTO + b"\x8a" + bytes([n]) + b"\x01" * 8 + b"."
        case(F, "torch.load", write(F, "long1_%d.pt" % n, torch_zip(pk)), "err:data.pkl")
    for n in (1 << 20, 1 << 40, (1 << 64) - 1):
        pk = PROTO + b"\x95" + struct.pack("<Q", n) + b"N."
        case(F, "torch.load", write(F, "frame_%d.pt" % n, torch_zip(pk)), "err:truncated")
    # 5. tensors against their storages (4 floats in data/0)
    bad_tensors = [
        (8, [8], [1], 0), (4, [5], [1], 0), (4, [2, 3], [3, 1], 0), (4, [2, 2], [2, 1], 1),
        (4, [4], [1], 4), (4, [1], [1], 4), (4, [2], [4], 0), (4, [100000, 100000], [100000, 1], 0),
        (4, [1 << 30, 4], [4, 1], 0), (4, [2], [-1], 0), (4, [-2], [1], 0), (4, [2], [1], -1),
        (1 << 30, [4], [1], 0), (-1, [4], [1], 0), (4, [2, 2], [1 << 30, 1], 0),
        (4, [3, 3], [1, 1], 0), (2 ** 31 - 1, [2], [1], 0),
    ]
    sizes = {"FloatStorage": 4, "DoubleStorage": 8, "LongStorage": 8, "ByteStorage": 1}
    for i, (numel, size, stride, off) in enumerate(bad_tensors + [(4, [4], [1], 0), (2, [2], [1], 0)]):
        for storage, el in sizes.items():
            pk = PROTO + tensor("0", numel, size, stride, off, storage) + b"."
            if numel < 0 or numel * el > 16:
                want = "err:storage"
            elif min(size + stride + [off]) < 0:
                want = "err:data.pkl"
            else:
                count, last = 1, off
                for sz, st in zip(size, stride):
                    count *= sz
                    last += (sz - 1) * st
                want = "ok" if count == 0 or last < numel else "err:storage"
            case(F, "torch.load", write(F, "storage_%d_%s.pt" % (i, storage), torch_zip(pk, rec)), want)
    pk = PROTO + tensor("1", 4, [4], [1]) + b"."
    case(F, "torch.load", write(F, "storage_missing.pt", torch_zip(pk, rec)), "err:missing")
    # 6. mutations of valid files: truncated and flipped, never a crash
    rng = random.Random(11)
    valid = PROTO + b"}" + put(0) + b"(" + uni("w") + t + uni("xs") + doubling(8) + uni("n") + \
        b"J\x07\x00\x00\x00" + b"u."
    base = torch_zip(valid, rec)
    case(F, "torch.load", write(F, "mut_base.pt", base), "ok", "", "v.n == 7")
    for i in range(1, len(valid)):
        case(F, "torch.load", write(F, "mut_trunc%d.pt" % i, torch_zip(valid[:i], rec)), "err:data.pkl")
    for i in range(250):
        pk = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            pk[rng.randrange(len(pk))] = rng.randrange(256)
        case(F, "torch.load", write(F, "mut_flip%d.pt" % i, torch_zip(bytes(pk), rec)), "any")
# }==================================================


# {=================== TorchScript archives ===================

def read_tiny():
    z = zipfile.ZipFile(TINY)
    return [(i.filename, z.read(i.filename), i.compress_type) for i in z.infolist()]


def rezip(entries):
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, method in entries:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def replace(entries, name, data):
    return [(n, data if n == name else d, m) for n, d, m in entries]


def inject(code, line):
    """a statement at the start of forward's body"""
    mark = "    h = (self).features(x, )\n"
    return code.replace(mark, "    " + line + "\n" + mark)


def jit_family():
    F = "jit"
    tiny = read_tiny()
    case(F, "jit.forward", write(F, "tiny.pt", rezip(tiny)), "ok")
    # 1. storage records shorter than their tensors
    for name, data, _ in tiny:
        if "/data/" not in name:
            continue
        for cut in sorted({1, 2, 4, len(data) // 2, len(data) - 1, len(data)}):
            if cut > len(data) or cut == 0:
                continue
            short = replace(tiny, name, data[:len(data) - cut])
            key = name.rsplit("/", 1)[1]
            for reader in ("jit.load", "jit.forward", "nn.load"):
                case(F, reader, write(F, "short_%s_%d_%s.pt" % (key, cut, reader), rezip(short)),
                     "err:storage record")
        empty = replace(tiny, name, b"")
        case(F, "jit.forward", write(F, "empty_%s.pt" % name.rsplit("/", 1)[1], rezip(empty)),
             "err:storage record")
        missing = [e for e in tiny if e[0] != name]
        case(F, "jit.load", write(F, "missing_%s.pt" % name.rsplit("/", 1)[1], rezip(missing)),
             "err:missing")
    # 2. data.pkl whose tensors claim more than their records (numel)
    pkl = dict((n, d) for n, d, _ in tiny)["tiny_model/data.pkl"]
    for i in range(len(pkl) - 6):
        if pkl[i:i + 1] == b"X" and pkl[i + 5:i + 8] == b"cpu":
            for numel in (1000, 1 << 20, (1 << 31) - 1):
                j = i + 8  # the numel after 'cpu': BININT1, BININT2 or BININT
                op = pkl[j:j + 1]
                width = {b"K": 1, b"M": 2, b"J": 4}.get(op)
                if not width:
                    continue
                new = pkl[:j] + b"J" + struct.pack("<i", numel) + pkl[j + 1 + width:]
                new = new.replace(b"\x80\x02", b"\x80\x02", 1)
                case(F, "jit.forward", write(F, "numel_%d_%d.pt" % (i, numel),
                                             rezip(replace(tiny, "tiny_model/data.pkl", new))),
                     "err:storage")
    # 3. deep pickles inside the archive
    for n in (1001, 5000, 20000, 50000, 80000):
        for what, body in (("lists", nested_lists(n)), ("tuples", nested_tuples(n)),
                           ("top_down", top_down(n))):
            for rec in ("tiny_model/data.pkl", "tiny_model/constants.pkl",
                        "tiny_model/code/__torch__.py.debug_pkl"):
                entries = replace(tiny, rec, PROTO + body + b".")
                case(F, "jit.load", write(F, "deep_%s_%d_%s.pt" % (what, n, rec.split("/")[-1]),
                                          rezip(entries)), "err:pickle_depth")
    # 4. deep TorchScript source
    code = dict((n, d) for n, d, _ in tiny)["tiny_model/code/__torch__.py"].decode()
    for n in (1, 10, 50, 100, 150, 190):
        src = inject(code, "_z = " + "(" * n + "1" + ")" * n)
        case(F, "jit.forward", write(F, "code_ok%d.pt" % n,
                                     rezip(replace(tiny, "tiny_model/code/__torch__.py", src.encode()))), "ok")
    shapes = {
        "parens": lambda n: "_z = " + "(" * n + "1" + ")" * n,
        "lists": lambda n: "_z = " + "[" * n + "1" + "]" * n,
        "calls": lambda n: "_z = " + "int(" * n + "1" + ")" * n,
        "unary": lambda n: "_z = " + "-" * n + "1",
        "nots": lambda n: "_z = " + "not " * n + "True",
        "power": lambda n: "_z = 1" + " ** 1" * n,
        "unclosed": lambda n: "_z = " + "(" * n,
    }
    for shape, make in shapes.items():
        for n in (201, 500, 2000, 10000, 20000, 100000):
            src = inject(code, make(n))
            case(F, "jit.load", write(F, "code_%s%d.pt" % (shape, n),
                                      rezip(replace(tiny, "tiny_model/code/__torch__.py", src.encode()))),
                 "err:script_depth")
    for n in (300, 2000, 20000):
        body = "".join("  " * (i + 2) + "if True:\n" for i in range(n)) + "  " * (n + 2) + "pass\n"
        src = code.replace("    h = (self).features(x, )\n", body + "    h = (self).features(x, )\n")
        case(F, "jit.load", write(F, "code_blocks%d.pt" % n,
                                  rezip(replace(tiny, "tiny_model/code/__torch__.py", src.encode()))),
             "err:script_depth")
    src = inject(code, "_z = " + "(" * 150 + "1" + ")" * 150)
    case(F, "jit.load", write(F, "code_limit.pt",
                              rezip(replace(tiny, "tiny_model/code/__torch__.py", src.encode()))),
         "err:script_depth", "clara.limits.script_depth = 100")
    # long statements (the compiler recurses per term) and prefix operators
    # side by side, which do not nest
    long = {
        "plus": (lambda n: "_z = 1" + " + 1" * n, 1),
        "attrs": (lambda n: "_z = x" + ".t()" * (n // 2), 2),
        "negs": (lambda n: "_z = [" + "-1, " * n + "-1]", 1),
        "minus": (lambda n: "_z = 1" + " - -1" * (n // 2), 2),
    }
    for shape, (make, per) in long.items():
        for n in (1000, 4000):
            src = inject(code, make(n))
            case(F, "jit.forward", write(F, "code_%s%d.pt" % (shape, n),
                                         rezip(replace(tiny, "tiny_model/code/__torch__.py", src.encode()))), "ok")
        for n in (5000 + per, 10000, 50000):
            src = inject(code, make(n))
            case(F, "jit.load", write(F, "code_%s%d.pt" % (shape, n),
                                      rezip(replace(tiny, "tiny_model/code/__torch__.py", src.encode()))),
                 "err:script_terms")
    src = inject(code, "_z = 1" + " + 1" * 6000)
    case(F, "jit.forward", write(F, "code_terms_raised.pt",
                                 rezip(replace(tiny, "tiny_model/code/__torch__.py", src.encode()))),
         "ok", "clara.limits.script_terms = 7000")
    # 5. code libtorch cannot compile: a short message, no internals
    edits = [("torch.relu", "torch.reluu"), ("fc2 = self.fc2", "fc2 = self.fc2 +* 3"),
             ("return _0", "return _0 +"), ("self.bn", "self.nope"), ("x: Tensor", "x: Tensr"),
             ("Tuple[Tensor, Tensor]", "Tuple[Tensor]"), ("  def stats", "def stats"),
             ("(self).features(x, )", "(self).features(x, x, x)"), ("[0]", "[0"),
             ("class Tiny(Module):", "class Tiny(Modul):"), ("_1 = {", "_1 = {{")]
    for i, (a, b) in enumerate(edits):
        src = code.replace(a, b, 1)
        case(F, "jit.load", write(F, "code_bad%d.pt" % i,
                                  rezip(replace(tiny, "tiny_model/code/__torch__.py", src.encode()))),
             "any" if a == "  def stats" else "err:torch.jit.load")
    rng = random.Random(14)
    for i in range(60):
        src = bytearray(code.encode())
        for _ in range(rng.randint(1, 3)):
            src[rng.randrange(len(src))] = rng.choice(b"()[]{}:,.+-*x_ 01\n\"'#")
        case(F, "jit.load", write(F, "code_flip%d.pt" % i,
                                  rezip(replace(tiny, "tiny_model/code/__torch__.py", bytes(src)))), "any")
    # 6. mutations: truncated archives, flipped pickle bytes
    whole = rezip(tiny)
    for cut in range(0, len(whole), max(1, len(whole) // 60)):
        case(F, "jit.load", write(F, "trunc%d.pt" % cut, whole[:cut]), "err:torch.jit.load")
    rng = random.Random(12)
    for i in range(200):
        pk = bytearray(pkl)
        for _ in range(rng.randint(1, 3)):
            pk[rng.randrange(2, len(pk))] = rng.randrange(256)
        case(F, "jit.load", write(F, "flip%d.pt" % i, rezip(replace(tiny, "tiny_model/data.pkl", bytes(pk)))),
             "any")
# }==================================================


# {=================== npz ===================

def npy(shape, data, descr="<f4"):
    head = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d," % s for s in shape))
    head = head.encode()
    pad = 64 - (10 + len(head) + 1) % 64
    head += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head + data


def raw_zip(members, directory=None):
    """a zip written by hand: members = [(name, data, method)]; directory =
    [(name, member index)] lists central entries (default: one each)"""
    out, where = b"", []
    for name, data, method in members:
        comp = data
        if method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            comp = c.compress(data) + c.flush()
        crc = zlib.crc32(data)
        n = name.encode()
        where.append((len(out), len(comp), len(data), crc, method))
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, method, 0, 0, crc, len(comp), len(data),
                           len(n), 0) + n + comp
    cd = b""
    directory = directory if directory is not None else [(m[0], i) for i, m in enumerate(members)]
    for name, i in directory:
        off, csize, usize, crc, method = where[i]
        n = name.encode()
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, method, 0, 0, crc, csize, usize,
                          len(n), 0, 0, 0, 0, 0, off) + n
    eocd = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(directory), len(directory), len(cd), len(out), 0)
    return out + cd + eocd


def npz_family():
    F = "npz"
    a = npy([4], struct.pack("<4f", 1, 2, 3, 4))
    big = npy([1 << 18], b"\x00" * (4 << 18))  # 1 MiB of zeros, deflates to ~1 KB
    case(F, "read_npz", write(F, "ok.npz", raw_zip([("a.npy", a, 0), ("b.npy", a, 8)])), "ok", "",
         "v.a:size()[1] == 4 and v.b[4]:item() == 4")
    case(F, "read_npz", write(F, "big_ok.npz", raw_zip([("z.npy", big, 8)])), "ok", "",
         "v.z:size()[1] == 262144")
    # 1. many directory entries naming one member
    for n in (2, 3, 10, 50, 100, 500, 1000, 3000):
        for method, member in ((0, a), (8, big)):
            d = [("m%d.npy" % i, 0) for i in range(n)]
            case(F, "read_npz", write(F, "same_%d_%d.npz" % (method, n), raw_zip([("m0.npy", member, method)], d)),
                 "err:overlap")
    # 2. entries overlapping partially: a second directory entry pointing
    # inside the first member's bytes
    base = raw_zip([("a.npy", a, 0), ("b.npy", a, 0)])
    for shift in range(1, 40):
        z = bytearray(base)
        cd = z.rfind(b"PK\x01\x02")  # the second central entry
        off = struct.unpack_from("<I", z, cd + 42)[0]
        struct.pack_into("<I", z, cd + 42, max(0, off - shift))
        case(F, "read_npz", write(F, "overlap_%d.npz" % shift, bytes(z)), "err:npz")
    # 3. total inflated size against clara.limits.npz_bytes
    for limit in (1000, 100000, 1 << 20, 16 << 20):
        for n in (1, 2, 8):
            ms = [("z%d.npy" % i, big, 8) for i in range(n)]
            want = "ok" if n * len(big) <= limit else "err:npz_bytes"
            case(F, "read_npz", write(F, "total_%d_%d.npz" % (limit, n), raw_zip(ms)), want,
                 "clara.limits.npz_bytes = %d" % limit)
    # 4. sizes that lie
    for claim in (1 << 20, 1 << 30, (1 << 32) - 1):
        z = bytearray(raw_zip([("a.npy", a, 8)]))
        cd = z.rfind(b"PK\x01\x02")
        struct.pack_into("<I", z, cd + 24, claim)
        case(F, "read_npz", write(F, "claim_%d.npz" % claim, bytes(z)), "err:npz")
    # 5. mutations
    rng = random.Random(13)
    whole = raw_zip([("a.npy", a, 0), ("b.npy", big, 8)])
    for i in range(200):
        z = bytearray(whole)
        for _ in range(rng.randint(1, 3)):
            z[rng.randrange(len(z))] = rng.randrange(256)
        case(F, "read_npz", write(F, "flip%d.npz" % i, bytes(z)), "any")
    for cut in range(0, len(whole), max(1, len(whole) // 50)):
        case(F, "read_npz", write(F, "trunc%d.npz" % cut, whole[:cut]), "err:read_npz")
# }==================================================


# {=================== not regular files ===================

READERS = ["torch.load", "jit.load", "nn.load", "read_pt", "read_npy", "read_npz", "read_idx",
           "read_idx_lua", "read_csv", "read_dir_npy", "read_dir_csv"]


def special_family():
    F = "special"
    d = os.path.join(OUT, F)
    os.makedirs(d, exist_ok=True)
    kinds = {}
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    kinds["fifo"] = (fifo, "named pipe")
    kinds["dir"] = (os.path.join(d, "adir"), "directory")
    os.makedirs(kinds["dir"][0], exist_ok=True)
    sock = os.path.join(d, "sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(sock)
    s.close()
    kinds["socket"] = (sock, "not a regular file")
    for dev in ("/dev/zero", "/dev/null", "/dev/urandom", "/dev/full"):
        if os.path.exists(dev):
            kinds[dev[5:]] = (dev, "device")
    links = {}
    for k, (p, why) in list(kinds.items()):
        link = os.path.join(d, "link_" + k)
        os.symlink(p, link)
        links["link_" + k] = (link, why)
    kinds.update(links)
    for reader in READERS:
        for k, (p, why) in sorted(kinds.items()):
            if reader.startswith("read_dir"):
                # a class folder holding the special file under a data name
                root = os.path.join(d, "root_%s_%s" % (reader, k))
                os.makedirs(os.path.join(root, "c0"), exist_ok=True)
                ext = ".npy" if reader.endswith("npy") else ".csv"
                os.symlink(p, os.path.join(root, "c0", "x" + ext))
                case(F, reader, root, "err:" + ("no %s files" % ext if True else why))
                continue
            case(F, reader, p, "err:" + why)
# }==================================================


def main():
    pickle_family()
    jit_family()
    npz_family()
    special_family()
    with open(os.path.join(OUT, "cases.tsv"), "w") as f:
        for c in CASES:
            f.write("\t".join(c) + "\n")
    counts = {}
    for c in CASES:
        counts[c[0]] = counts.get(c[0], 0) + 1
    print(" ".join("%s=%d" % kv for kv in sorted(counts.items())))


if __name__ == "__main__":
    main()
