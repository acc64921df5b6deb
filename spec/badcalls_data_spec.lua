-- Bad input to the data readers (clara.data.read_*): every one raises a Lua
-- error naming the reader, the file and the position (line:column for text,
-- byte offset for binary files) where one applies; nothing crashes.  The bad
-- files are written at the start into a temporary directory.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_data_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.
local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local data = require "clara.data"
local lfs = require "lfs"

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
local function path(name) return tmp .. "/" .. name end
local function put(name, bytes)
  local dir = name:match("^(.*)/[^/]*$")
  if dir then
    local sofar = tmp
    for part in dir:gmatch("[^/]+") do sofar = sofar .. "/" .. part; lfs.mkdir(sofar) end
  end
  local f = assert(io.open(path(name), "wb"))
  f:write(bytes)
  f:close()
  return path(name)
end
local function gz(name, bytes)
  local p = put(name .. ".raw", bytes)
  assert(os.execute(("gzip -c -n '%s' > '%s'"):format(p, path(name))))
  return path(name)
end

-- IDX bytes: header of type code and sizes, then the data
local function idx(code, sizes, body)
  local h = string.char(0, 0, code, #sizes)
  for _, s in ipairs(sizes) do h = h .. string.pack(">I4", s) end
  return h .. body
end
local good_idx = idx(0x08, { 2, 3 }, "abcdef")
local npy_head = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
local function npy(header, body)
  header = header .. string.rep(" ", 63 - #header) .. "\n"
  return "\147NUMPY\1\0" .. string.pack("<I2", #header) .. header .. body
end

put("empty", "")
put("good.idx", good_idx)
put("magic.idx", "\1\0\8\1\0\0\0\1x")
put("type.idx", "\0\0\7\1\0\0\0\1x")
put("trunc.idx", idx(0x08, { 2, 3 }, "abcd"))
put("exceed.idx", idx(0x0D, { 60000, 28, 28 }, "abcd"))
put("trail.idx", good_idx .. "zz")
put("header.idx", "\0\0\8\3\0\0\0\2")
gz("trunc.idx.gz", idx(0x08, { 1000 }, string.rep("x", 500)))
local corrupt = gz("corrupt.idx.gz", idx(0x08, { 4000 }, string.rep("abcdefgh", 500)))
do -- flip bytes in the middle of the deflate stream
  local f = assert(io.open(corrupt, "r+b"))
  f:seek("set", 30)
  f:write("\255\0\255\0\255\0")
  f:close()
end
put("ragged.csv", "a,b,c\n1,2,3\n4,5\n")
put("wide.csv", "a,b\n1,2\n3,4,5\n")
put("text.csv", "a,b\n1,2\n3,abc\n")
put("hole.csv", "a,b\n1,2\n3,\n")
put("nolabel.csv", "a,y\n1,0\n2,\n")
put("header_only.csv", "a,b,c\n")
put("blank.csv", "\n\n  \n")
put("quote.csv", "a,b\n1,\"2\n")
put("afterquote.csv", "a,b\n1,\"2\"x\n")
put("classes.csv", "a,y\n1,cat\n2,cow\n")
put("allmissing.csv", "a,b\n1,\n2,NA\n")
put("dropall.csv", "a,b\n1,\n,2\n")
put("good.csv", "a,b,y\n1,2,0\n3,4,1\n")
put("magic.npy", "\147NUMPX\1\0" .. string.pack("<I2", 4) .. "{}  ")
put("trunc.npy", npy(npy_head, string.rep("\0", 20)))
put("complex.npy", npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", string.rep("\0", 8)))
put("struct.npy", npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }", "\0\0\0\0"))
put("noshape.npy", npy("{'descr': '<f4', 'fortran_order': False, }", ""))
put("hdrlen.npy", "\147NUMPY\1\0\255\255{'descr'")
put("notzip.npz", "PK not really a zip archive, just text")
local f = assert(io.open("spec/fixtures/data/stored.npz", "rb"))
local npz = f:read("a")
f:close()
put("trunc.npz", npz:sub(1, #npz - 40))
do -- corrupt one data byte of a stored entry: the CRC must catch it
  local at = npz:find("\147NUMPY", 1, true) + 130
  put("crc.npz", npz:sub(1, at - 1) .. "\255" .. npz:sub(at + 1))
end
put("fm/t10k-images-idx3-ubyte.raw", "")
gz("fm/t10k-images-idx3-ubyte.gz", idx(0x08, { 2, 2, 2 }, "abcdefgh"))
gz("fm/t10k-labels-idx1-ubyte.gz", idx(0x08, { 3 }, "\1\2\3"))
put("dir/a/x.npy", npy(npy_head, string.rep("\0", 24)))
put("dir/b/y.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", string.rep("\0", 12)))
lfs.mkdir(path("noclasses"))
put("nofiles/a/readme.txt", "hi")

-- { description, reader name, what the message says (plain, case-insensitive)
--   ..., the bad call }: every string must be in the message
local R = data
local cases = {
  -- IDX
  { "idx: missing path", "read_idx", path("nope.idx"), "no such file", function() return R.read_idx(path("nope.idx")) end },
  { "idx: empty file", "read_idx", path("empty"), "empty file", function() return R.read_idx(path("empty")) end },
  { "idx: wrong magic", "read_idx", path("magic.idx"), "offset 0", "bad magic", function() return R.read_idx(path("magic.idx")) end },
  { "idx: unknown type code", "read_idx", "offset 2", "type code 0x07", function() return R.read_idx(path("type.idx")) end },
  { "idx: truncated data", "read_idx", path("trunc.idx"), "offset 16", "truncated", function() return R.read_idx(path("trunc.idx")) end },
  { "idx: sizes exceed the file", "read_idx", "offset 20", "promise 18816" .. "0000 bytes", function() return R.read_idx(path("exceed.idx")) end },
  { "idx: trailing bytes", "read_idx", "offset 18", "trailing", function() return R.read_idx(path("trail.idx")) end },
  { "idx: truncated header", "read_idx", "offset 8", "truncated header", function() return R.read_idx(path("header.idx")) end },
  { "idx: truncated gzip data", "read_idx", path("trunc.idx.gz"), "offset 508", "truncated", function() return R.read_idx(path("trunc.idx.gz")) end },
  { "idx: corrupt gzip stream", "read_idx", path("corrupt.idx.gz"), "corrupt gzip", function() return R.read_idx(path("corrupt.idx.gz")) end },
  { "idx: a directory", "read_idx", tmp, "not a regular file", function() return R.read_idx(tmp) end },
  { "idx: path not a string", "read_idx", "path must be a string", function() return R.read_idx(42) end },
  { "idx: unknown impl", "read_idx", "impl must be", function() return R.read_idx(path("good.idx"), { impl = "rust" }) end },
  { "idx: unknown option", "read_idx", "unknown option 'imp'", function() return R.read_idx(path("good.idx"), { imp = "c" }) end },
  { "idx in memory: gzip bytes", "parse_idx", "offset 0", "gzip data", function()
    local g = assert(io.open(path("trunc.idx.gz"), "rb")); local s = g:read("a"); g:close()
    return require("clara.data.core").parse_idx(s)
  end },
  -- CSV
  { "csv: missing path", "read_csv", path("nope.csv"), "no such file", function() return R.read_csv(path("nope.csv")) end },
  { "csv: empty file", "read_csv", path("empty") .. ":1:1", "empty file", function() return R.read_csv(path("empty")) end },
  { "csv: only blank lines", "read_csv", ":1:1", "empty file", function() return R.read_csv(path("blank.csv")) end },
  { "csv: header only", "read_csv", ":2:1", "no data rows after the header", function() return R.read_csv(path("header_only.csv")) end },
  { "csv: ragged row (too few)", "read_csv", path("ragged.csv") .. ":3:4", "row has 2 fields, expected 3", function() return R.read_csv(path("ragged.csv")) end },
  { "csv: ragged row (too many)", "read_csv", ":3:5", "more than 2 fields", function() return R.read_csv(path("wide.csv")) end },
  { "csv: non-numeric value", "read_csv", path("text.csv") .. ":3:3", "non-numeric value 'abc' in column 'b'", function() return R.read_csv(path("text.csv")) end },
  { "csv: non-numeric label", "read_csv", ":2:3", "non-numeric value 'cat' in column 'y'", function() return R.read_csv(path("classes.csv"), { label = "y" }) end },
  { "csv: missing value", "read_csv", ":3:3", "missing value in column 'b'", function() return R.read_csv(path("hole.csv")) end },
  { "csv: missing label", "read_csv", ":3:3", "missing label in column 'y'", function() return R.read_csv(path("nolabel.csv"), { label = "y", missing = "zero" }) end },
  { "csv: label not among given classes", "read_csv", ":3:3", "label 'cow' is not one of the 2 classes", function() return R.read_csv(path("classes.csv"), { label = "y", classes = { "cat", "dog" } }) end },
  { "csv: unterminated quote", "read_csv", ":2:3", "unterminated quoted field", function() return R.read_csv(path("quote.csv")) end },
  { "csv: text after a closing quote", "read_csv", ":2:6", "after the closing quote", function() return R.read_csv(path("afterquote.csv")) end },
  { "csv: mean of an empty column", "read_csv", path("allmissing.csv"), "column 'b' has no values", function() return R.read_csv(path("allmissing.csv"), { missing = "mean" }) end },
  { "csv: every row dropped", "read_csv", ":4:1", "no rows left", function() return R.read_csv(path("dropall.csv"), { missing = "drop" }) end },
  { "csv: unknown label column", "read_csv", "no label column named 'z'", function() return R.read_csv(path("good.csv"), { label = "z" }) end },
  { "csv: input position out of range", "read_csv", "input column 7 out of range", function() return R.read_csv(path("good.csv"), { input = { 1, 7 } }) end },
  { "csv: column name without a header", "read_csv", "header = false", function() return R.read_csv(path("good.csv"), { header = false, label = "y" }) end },
  { "csv: a column both input and label", "read_csv", "both input and label", function() return R.read_csv(path("good.csv"), { input = { 1, 3 }, label = 3 }) end },
  { "csv: input given twice", "read_csv", "given twice", function() return R.read_csv(path("good.csv"), { input = { 1, 1 } }) end },
  { "csv: input column of a bad type", "read_csv", "name or a position, got boolean", function() return R.read_csv(path("good.csv"), { input = { true } }) end },
  { "csv: input not a list", "read_csv", "input must be a list", function() return R.read_csv(path("good.csv"), { input = "a" }) end },
  { "csv: two-character sep", "read_csv", "sep must be one character", function() return R.read_csv(path("good.csv"), { sep = ";;" }) end },
  { "csv: unknown missing policy", "read_csv", "missing must be", function() return R.read_csv(path("good.csv"), { missing = "guess" }) end },
  { "csv: categorical without a label", "read_csv", "need a label column", function() return R.read_csv(path("good.csv"), { categorical = true }) end },
  { "csv: classes not strings", "read_csv", "list of strings", function() return R.read_csv(path("classes.csv"), { label = "y", classes = { 1, 2 } }) end },
  { "csv: a class given twice", "read_csv", "class 'cat' given twice", function() return R.read_csv(path("classes.csv"), { label = "y", classes = { "cat", "cat" } }) end },
  { "csv: misspelt option", "read_csv", "unknown option 'lable'", function() return R.read_csv(path("good.csv"), { lable = "y" }) end },
  { "csv: options not a table", "read_csv", "options must be a table", function() return R.read_csv(path("good.csv"), "y") end },
  -- NPY / NPZ
  { "npy: missing path", "read_npy", path("nope.npy"), "no such file", function() return R.read_npy(path("nope.npy")) end },
  { "npy: empty file", "read_npy", path("empty"), "empty file", function() return R.read_npy(path("empty")) end },
  { "npy: bad magic", "read_npy", "offset 0", "bad magic", function() return R.read_npy(path("magic.npy")) end },
  { "npy: truncated data", "read_npy", path("trunc.npy"), "offset 94", "truncated", function() return R.read_npy(path("trunc.npy")) end },
  { "npy: complex dtype", "read_npy", "unsupported dtype '<c8'", function() return R.read_npy(path("complex.npy")) end },
  { "npy: structured dtype", "read_npy", "offset 20", "structured", function() return R.read_npy(path("struct.npy")) end },
  { "npy: header without shape", "read_npy", "missing 'shape'", function() return R.read_npy(path("noshape.npy")) end },
  { "npy: header longer than the file", "read_npy", "offset 18", "truncated header", function() return R.read_npy(path("hdrlen.npy")) end },
  { "npy: a directory", "read_npy", "not a regular file", function() return R.read_npy(tmp) end },
  { "npz: missing path", "read_npz", "no such file", function() return R.read_npz(path("nope.npz")) end },
  { "npz: not a zip archive", "read_npz", path("notzip.npz"), "not a zip archive", function() return R.read_npz(path("notzip.npz")) end },
  { "npz: truncated archive", "read_npz", path("trunc.npz"), "not a zip archive", function() return R.read_npz(path("trunc.npz")) end },
  { "npz: corrupt entry (CRC)", "read_npz", "offset", "crc mismatch", function() return R.read_npz(path("crc.npz")) end },
  { "npz: an npy file", "read_npz", "not a zip archive", function() return R.read_npz("spec/fixtures/data/f4.npy") end },
  { "pt: missing path", "read_pt", "nope.pt", function() return R.read_pt(path("nope.pt")) end },
  -- tables
  { "table: inputs/labels count mismatch", "from_table", "2 input rows but 3 labels", function() return R.from_table { inputs = { { 1 }, { 2 } }, labels = { 0, 1, 1 } } end },
  { "table: ragged rows", "from_table", "ragged", function() return R.from_table { { 1, 2 }, { 3 } } end },
  { "table: a string input", "from_table", "expected a number, got string", function() return R.from_table { { 1, "x" } } end },
  { "table: no rows", "from_table", "no rows", function() return R.from_table {} end },
  { "table: mixed label types", "from_table", "labels[2] is a string", function() return R.from_table { inputs = { { 1 }, { 2 } }, labels = { 0, "a" } } end },
  { "table: missing label column", "from_table", "row 2 has no column 3", function() return R.from_table({ { 1, 2, 0 }, { 1, 2 } }, { label = 3 }) end },
  { "table: not a table", "from_table", "table expected, got string", function() return R.from_table "x" end },
  -- directories
  { "dir: not a directory", "read_dir", "not a directory", function() return R.read_dir(path("nope")) end },
  { "dir: no class folders", "read_dir", "no class folders", function() return R.read_dir(path("noclasses")) end },
  { "dir: no files", "read_dir", "no .npy files", function() return R.read_dir(path("nofiles")) end },
  { "dir: samples of two shapes", "read_dir", path("dir/b/y.npy"), "shape 3 differs from 2x3", function() return R.read_dir(path("dir")) end },
  { "dir: unknown ext", "read_dir", "ext must be", function() return R.read_dir(path("dir"), { ext = ".png" }) end },
  -- the embedded default
  { "fashion_mnist: unknown split", "fashion_mnist", "split must be one of 'train', 'test', got 'val'", function() return R.fashion_mnist { split = "val" } end },
  { "fashion_mnist: images/labels count mismatch", "fashion_mnist", "2 images but 3 labels", function() return R.fashion_mnist { split = "test", dir = path("fm") } end },
  { "fashion_mnist: missing dir", "read_idx", "/nope/t10k-images-idx3-ubyte.gz", "no such file", function() return R.fashion_mnist { split = "test", dir = "/nope" } end },
}

describe("bad data input", function()
  badcalls(cases, {
    marks = { "Exception raised from", "frame #%d", "%.cpp:%d", "c10::", "at::" },
    width = 40,
  })

  it("leave the process sound (readers still work)", function()
    collectgarbage()
    local x = data.read_csv(path("good.csv"), { label = "y" })
    assert.same({ { 1, 2 }, { 3, 4 } }, x:totable())
    assert.same({ 2, 3 }, data.read_idx(path("good.idx")):size())
    os.execute("rm -rf '" .. tmp .. "'")
  end)
end)
