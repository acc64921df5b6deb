#!/usr/bin/python3
"""Writes the seed corpora of the pickle and TorchScript-archive fuzz targets
(tests/fuzz/corpus/{pickle,archive}/): the pickles of the fixtures, small
shared, cyclic and nested ones, and a few archives.  Standard library only.
Run: python3 tests/fuzz/make_pickle_corpus.py"""
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import make_corpus as h  # noqa: E402  (the hostile corpus' pickle helpers)

FIX = os.path.join(HERE, "..", "..", "spec", "fixtures")
root = os.path.join(HERE, "corpus")


def put(kind, name, data):
    d = os.path.join(root, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# pickles: the fixtures' data.pkl, then small hand-made ones
for fx in ("state_dict.pt", "values.pt", "tiny_model.pt"):
    z = zipfile.ZipFile(os.path.join(FIX, fx))
    for n in z.namelist():
        if n.endswith("data.pkl") or n.endswith("constants.pkl"):
            put("pickle", fx[:-3] + "_" + n.rsplit("/", 1)[1], z.read(n))
P = h.PROTO
put("pickle", "tensor", P + h.tensor("0", 4, [2, 2], [2, 1]) + b".")
put("pickle", "lists", P + h.nested_lists(6) + b".")
put("pickle", "tuples", P + h.nested_tuples(6) + b".")
put("pickle", "dicts", P + h.nested_dicts(4) + b".")
put("pickle", "top_down", P + h.top_down(5) + b".")
put("pickle", "doubling", P + h.doubling(4) + b".")
put("pickle", "doubling_dict", P + h.doubling(3, "dict") + b".")
put("pickle", "cycle", P + b"]" + h.put(0) + h.get(0) + b"a.")
put("pickle", "long", P + b"\x8a\x08" + b"\xff" * 8 + b"G" + b"\x40" * 8 + b"\x8c\x02ab\x88\x89N\x86.")

# archives: a torch.save file, the TorchScript fixture, a short record
put("archive", "state_dict.pt", open(os.path.join(FIX, "state_dict.pt"), "rb").read())
tiny = h.read_tiny()
put("archive", "tiny_model.pt", h.rezip(tiny))
put("archive", "short_record.pt", h.rezip(h.replace(tiny, "tiny_model/data/0", b"\x00" * 8)))
put("archive", "small.pt", h.torch_zip(P + h.doubling(3) + b".", {}))
