-- clara.data.read: the input conventions.  Each reader returns tensors;
-- malformed input raises an error naming the reader, the path and the
-- position (line:column for text, byte offset for binary files).
--
--   read_idx(path)                      IDX (MNIST family), raw or gzip
--   read_csv(path, opts)                CSV/TSV -> inputs, labels, meta
--   read_npy(path), read_npz(path)      NumPy arrays; npz -> {name = tensor}
--   read_pt(path)                       a file of torch.save (clara or PyTorch)
--   from_table(t, opts)                 Lua tables -> inputs, labels, meta
--   read_dir(root, opts)                one folder per class of .npy/.csv files
--   fashion_mnist{split = "train"}      the embedded default data set
--
-- The parsing is C (bindings/parse_*.c, module clara.data.core); the IDX
-- format also has a readable Lua reader, clara.data.idx (impl = "lua").
local torch = require "torch"
local core = require "clara.data.core"
local idx = require "clara.data.idx"
local E = require "clara.error"

local read = {}

-- one schema per reader's options table (clara.error checks keys, types, ranges)
local function check_opts(fname, opts, schema)
  return E.options("clara.data." .. fname, opts, schema)
end

local function check_path(fname, path)
  if type(path) ~= "string" then
    E.raise(nil, ("clara.data.%s: path must be a string, got %s"):format(fname, type(path)))
  end
end

-- errors of the C readers carry their own "clara.data.NAME: path:position:"
-- prefix: raised again as they are, with no Lua position in front
local function call(fn, ...)
  local res = table.pack(pcall(fn, ...))
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- read_idx(path[, {impl = "c" | "lua"}]) -> tensor (uint8, int8, int16,
-- int32, float32 or float64, as the file says)
function read.read_idx(path, opts)
  check_path("read_idx", path)
  opts = check_opts("read_idx", opts, { impl = { enum = { "c", "lua" }, doc = "the C parser or the readable Lua one" } })
  if opts.impl == "lua" then
    call(core.check_file, path, "read_idx") -- io.open would block on a pipe
    return call(idx.read, path)
  end
  return call(core.read_idx, path)
end

function read.read_npy(path)
  check_path("read_npy", path)
  return call(core.read_npy, path)
end

function read.read_npz(path)
  check_path("read_npz", path)
  return call(core.read_npz, path, require("clara.limits").npz_bytes)
end

-- read_pt(path) -> what torch.save stored (a tensor, or a table of them)
function read.read_pt(path)
  check_path("read_pt", path)
  if not torch.load then E.raise(nil, "clara.data.read_pt: torch.load is not available") end
  local ok, v = pcall(torch.load, path)
  if not ok then E.raise(nil, "clara.data.read_pt: " .. tostring(v)) end
  return v
end

local csv_known = {
  header = { type = "boolean", doc = "the first row names the columns (default true)" },
  sep = { type = "string", doc = "the field separator: one character" },
  input = { type = "table", what = "a list of column names or positions", doc = "the input columns" },
  label = { type = "string|integer", doc = "the label column: name or position" },
  categorical = { type = "boolean", doc = "labels are names, ids 0.. in sorted order" },
  classes = { type = "table", doc = "fixed class names (ids in this order)" },
  missing = { enum = { "error", "drop", "zero", "mean" }, doc = "what a missing input becomes" },
  na = { type = "table", doc = "strings that mean missing" },
}

-- read_csv(path, opts) -> inputs (N x k float32), labels or nil, meta
-- opts: header (true), sep ("," or "\t" for .tsv), input = {names or
-- positions} (default: every column but the label), label = name or
-- position, categorical (labels are names: ids 0.. in sorted order),
-- classes = {names} (fixed ids, e.g. meta.classes of the training file),
-- missing = "error" | "drop" | "zero" | "mean" (inputs; labels: error or
-- drop), na = {strings meaning missing} (default NA N/A NaN nan null NULL ?;
-- an empty field is always missing).
-- meta: columns (input names), label (its name), classes and mapping
-- (name -> id) for categorical labels, dropped (rows dropped).
function read.read_csv(path, opts)
  check_path("read_csv", path)
  opts = check_opts("read_csv", opts, csv_known)
  local o = {}
  o.header = opts.header ~= false
  o.sep = opts.sep or (path:lower():match("%.tsv$") and "\t" or ",")
  if type(o.sep) ~= "string" or #o.sep ~= 1 or o.sep == '"' or o.sep == "\n" or o.sep == "\r" then
    E.raise(nil, ("clara.data.read_csv: sep must be one character (not a quote or newline), got %q")
      :format(tostring(o.sep)))
  end
  o.missing = opts.missing or "error"
  o.input, o.label, o.na = opts.input, opts.label, opts.na
  if opts.classes ~= nil or opts.categorical then
    o.label_kind = "category"
    o.classes = opts.classes
  end
  if o.label_kind and o.label == nil then
    E.raise(nil, "clara.data.read_csv: categorical labels need a label column (label = name or position)")
  end
  local x, y, classes, columns, dropped = call(core.read_csv, path, o)
  local meta = { columns = columns, dropped = dropped }
  if o.label ~= nil then
    meta.label = type(o.label) == "string" and o.label or nil
  end
  if classes then
    meta.classes = classes
    meta.mapping = {}
    for i, name in ipairs(classes) do meta.mapping[name] = i - 1 end
  end
  return x, y, meta
end

-- ids 0.. for the distinct strings of a list, in sorted order
local function categories(values)
  local seen, classes = {}, {}
  for _, v in ipairs(values) do
    if not seen[v] then seen[v] = true; classes[#classes + 1] = v end
  end
  table.sort(classes)
  local mapping = {}
  for i, c in ipairs(classes) do mapping[c] = i - 1 end
  return classes, mapping
end

local function labels_tensor(fname, labels)
  if #labels == 0 then return nil end
  local kind = type(labels[1])
  for i, v in ipairs(labels) do
    if type(v) ~= kind then
      E.raise(nil, ("clara.data.%s: labels[%d] is a %s, labels[1] a %s"):format(fname, i, type(v), kind))
    end
  end
  if kind == "string" then
    local classes, mapping = categories(labels)
    local ids = {}
    for i, v in ipairs(labels) do ids[i] = mapping[v] end
    return torch.tensor(ids, { dtype = "int64" }), { classes = classes, mapping = mapping }
  end
  if kind ~= "number" then
    E.raise(nil, ("clara.data.%s: labels must be numbers or strings, got %s"):format(fname, kind))
  end
  for _, v in ipairs(labels) do
    if math.type(v) ~= "integer" then return torch.tensor(labels, { dtype = "float32" }), {} end
  end
  return torch.tensor(labels, { dtype = "int64" }), {}
end

-- from_table(t[, {label = position}]) -> inputs (float32), labels or nil, meta
--   t = {{1, 2}, {3, 4}}                          rows of numbers
--   t = {inputs = {{...}, ...}, labels = {...}}   labels: integers (class ids,
--       int64), other numbers (float32) or strings (ids in sorted order)
--   from_table(rows, {label = 3})                 column 3 of each row is the label
function read.from_table(t, opts)
  opts = check_opts("from_table", opts, { label = { type = "integer", doc = "the label column's position" } })
  if type(t) ~= "table" then
    E.raise(nil, ("clara.data.from_table: table expected, got %s"):format(type(t)))
  end
  local rows, labels = t, nil
  if t.inputs ~= nil then rows, labels = t.inputs, t.labels end
  if type(rows) ~= "table" or #rows == 0 then
    E.raise(nil, "clara.data.from_table: no rows (expected a non-empty list of rows)")
  end
  if opts.label ~= nil then
    if labels then E.raise(nil, "clara.data.from_table: give labels or a label column, not both") end
    local c = opts.label
    if math.type(c) ~= "integer" then E.raise(nil, "clara.data.from_table: label must be a column position") end
    local inputs
    inputs, labels = {}, {}
    for i, row in ipairs(rows) do
      if type(row) ~= "table" then E.raise(nil, ("clara.data.from_table: row %d is a %s, not a list"):format(i, type(row))) end
      local pos = c < 0 and #row + 1 + c or c
      if row[pos] == nil then E.raise(nil, ("clara.data.from_table: row %d has no column %d"):format(i, c)) end
      local r = {}
      for j, v in ipairs(row) do if j ~= pos then r[#r + 1] = v end end
      inputs[i], labels[i] = r, row[pos]
    end
    rows = inputs
  end
  local ok, x = pcall(torch.tensor, rows, { dtype = "float32" })
  if not ok then E.raise(nil, "clara.data.from_table: inputs: " .. tostring(x)) end
  local meta = {}
  local y
  if labels then
    if type(labels) ~= "table" then E.raise(nil, "clara.data.from_table: labels must be a list") end
    if #labels ~= #rows then
      E.raise(nil, ("clara.data.from_table: %d input rows but %d labels"):format(#rows, #labels))
    end
    y, meta = labels_tensor("from_table", labels)
  end
  return x, y, meta
end

-- read_dir(root[, {ext = ".npy" | ".csv", csv = {read_csv options}}])
-- -> inputs, labels (int64), meta {classes, mapping, files}
-- One folder per class (sorted names -> ids 0..); a .npy file is one sample
-- (all of one shape), a .csv file holds rows of samples of its class.
function read.read_dir(root, opts)
  check_path("read_dir", root)
  opts = check_opts("read_dir", opts, { ext = { enum = { ".npy", ".csv" }, default = ".npy", doc = "the files of a class folder" },
                                        csv = { type = "table", doc = "read_csv options for .csv files" } })
  local ext = opts.ext or ".npy"
  local lfs = require "lfs"
  if lfs.attributes(root, "mode") ~= "directory" then
    E.raise(nil, ("clara.data.read_dir: %s: not a directory"):format(root))
  end
  local function sorted_entries(dir, want)
    local out = {}
    for name in lfs.dir(dir) do
      if name:sub(1, 1) ~= "." and lfs.attributes(dir .. "/" .. name, "mode") == want then
        out[#out + 1] = name
      end
    end
    table.sort(out)
    return out
  end
  -- 1. the classes, 2. their files, 3. one tensor of all samples
  local classes = sorted_entries(root, "directory")
  if #classes == 0 then E.raise(nil, ("clara.data.read_dir: %s: no class folders"):format(root)) end
  local parts, ids, files, shape = {}, {}, {}, nil
  for id, class in ipairs(classes) do
    for _, name in ipairs(sorted_entries(root .. "/" .. class, "file")) do
      if name:sub(-#ext) == ext then
        local path = root .. "/" .. class .. "/" .. name
        local x
        if ext == ".npy" then
          x = call(core.read_npy, path)
          local this = table.concat(x:size(), "x")
          shape = shape or this
          if this ~= shape then
            E.raise(nil, ("clara.data.read_dir: %s: shape %s differs from %s (%s)"):format(path,
              this, shape, files[1]))
          end
          x = x:unsqueeze(1)
        else
          x = read.read_csv(path, opts.csv)
        end
        parts[#parts + 1] = x
        for _ = 1, x:size()[1] do ids[#ids + 1] = id - 1; files[#files + 1] = path end
      end
    end
  end
  if #parts == 0 then E.raise(nil, ("clara.data.read_dir: %s: no %s files in the class folders"):format(root, ext)) end
  local mapping = {}
  for i, c in ipairs(classes) do mapping[c] = i - 1 end
  local ok, x = pcall(torch.cat, parts, 1)
  if not ok then E.raise(nil, "clara.data.read_dir: " .. root .. ": " .. tostring(x)) end
  return x, torch.tensor(ids, { dtype = "int64" }), { classes = classes, mapping = mapping, files = files }
end

read.fashion_mnist_classes = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" }

-- fashion_mnist{split = "train" | "test", dir = ..., impl = "c" | "lua", limit = n}
-- -> images (N, 28, 28) uint8, labels (N) int64 in 0..9, class names;
-- limit keeps the first n samples (a short run of an example).
-- dir defaults to $CLARA_DATA, then Debian's /usr/share/datasets/fashion-mnist.
function read.fashion_mnist(opts)
  opts = check_opts("fashion_mnist", opts, {
    split = { enum = { "train", "test" }, default = "train", doc = "which half" },
    dir = { type = "string", doc = "the folder of the IDX files" },
    impl = { enum = { "c", "lua" }, doc = "the IDX reader" },
    limit = { type = "integer", min = 1, what = "a positive integer", doc = "keep the first n samples" } })
  local split = opts.split or "train"
  local prefix = ({ train = "train", test = "t10k" })[split]
  if not prefix then
    E.raise(nil, ("clara.data.fashion_mnist: unknown split '%s' (train or test)"):format(tostring(split)))
  end
  local dir = opts.dir or os.getenv("CLARA_DATA") or "/usr/share/datasets/fashion-mnist"
  local ro = { impl = opts.impl }
  local images = read.read_idx(("%s/%s-images-idx3-ubyte.gz"):format(dir, prefix), ro)
  local labels = read.read_idx(("%s/%s-labels-idx1-ubyte.gz"):format(dir, prefix), ro)
  if images:size()[1] ~= labels:size()[1] then
    E.raise(nil, ("clara.data.fashion_mnist: %s: %d images but %d labels"):format(dir,
      images:size()[1], labels:size()[1]))
  end
  labels = labels:long()
  if opts.limit and opts.limit < labels:size(1) then
    images, labels = images:narrow(1, 1, opts.limit), labels:narrow(1, 1, opts.limit)
  end
  return images, labels, read.fashion_mnist_classes
end

return read
