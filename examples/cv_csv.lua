-- 5-fold stratified cross-validation of a small network on a CSV file.
--
-- The CSV: the machine has no tabular data set clara can rely on, so this
-- example derives one from Fashion-MNIST (Debian's dataset-fashion-mnist)
-- and writes it to a temporary file first: for 3,000 training images, the
-- 16 means of the 7x7 pixel blocks (a 4x4 thumbnail) and the class name,
--   b11,b12,...,b44,class
--   0.0000,0.0423,...,0.0102,Ankle boot
-- Any CSV with a header, numeric inputs and a label column reads the same.
--
-- The data is read with clara.data.read_csv (names as labels: class ids
-- 0.. in sorted order), a stratified fifth is kept aside as a test set, and
-- exp:cross_validate trains a fresh model per fold on the other folds.
-- Standardization must not see the held-out fold: a hook fits it on each
-- fold's training part when that fold's run starts.  The end prints the
-- mean ± standard deviation over the folds.
-- The file returns its experiment for `clara run`, `clara analyze` and
-- batteries; run directly it cross-validates it (as examples/fashion_mlp.lua).
-- CLARA_QUICK=1 (make test) trains each fold for 3 epochs instead of 30.
local T = clara.transforms
local quick = os.getenv("CLARA_QUICK") == "1"

-- 1. write the CSV: 4x4 block means of the images, and the class name
local function write_csv(path, n)
  local images, labels, classes = clara.data.fashion_mnist{ split = "train" }
  local x = images[{{1, n}}]:float():div(255):view(n, 1, 28, 28)
  local blocks = nn.AvgPool2d(7)(x):view(n, 16):totable()
  local header = {}
  for i = 1, 4 do for j = 1, 4 do header[#header + 1] = ("b%d%d"):format(i, j) end end
  header[#header + 1] = "class"
  local lines = { table.concat(header, ",") }
  for r = 1, n do
    local cells = {}
    for k, v in ipairs(blocks[r]) do cells[k] = ("%.4f"):format(v) end
    cells[#cells + 1] = classes[labels[r]:item() + 1]
    lines[#lines + 1] = table.concat(cells, ",")
  end
  clara.fs.write_atomic(path, table.concat(lines, "\n") .. "\n")
end

local csv = os.tmpname()
write_csv(csv, 3000)

-- 2. read it: every column but "class" is an input
local x, y, meta = clara.data.read_csv(csv, { label = "class", categorical = true })
os.remove(csv)
print(("CSV: %d rows, %d inputs, classes %s"):format(x:size(1), x:size(2),
                                                  table.concat(meta.classes, ", ")))

-- 3. a stratified fifth aside for testing; the folds split the rest
local parts = clara.data.split(y, { ratios = { 0.8, 0.2 }, names = { "dev", "test" }, seed = 1 })
local all = clara.data.TensorDataset(x, y)
local data = { train = clara.data.Subset(all, parts.dev), test = clara.data.Subset(all, parts.test) }

-- 4. standardization, fitted on the training part of the fold being run
local standardize = T.Standardize()
local function fit_on_fold(ctx)
  local train = ctx.experiment.data.train   -- this fold's training samples
  local inputs = train:batch(torch.arange(0, #train))
  standardize:fit(inputs)
end
-- a first fit on the whole development part, so the pipeline works outside
-- a run too (`clara analyze examples/cv_csv.lua`); every fold's run refits it
-- on its own training part before its first step
fit_on_fold { experiment = { data = data } }

local exp = clara.experiment{
  name = "cv_csv",
  data = data,
  preprocess = standardize,
  hooks = { on_run_start = fit_on_fold },
  hparams = { lr = 3e-3, hidden = 64 },
  model = function(hp)
    return nn.Sequential(nn.Linear(16, hp.hidden), nn.ReLU(), nn.Linear(hp.hidden, #meta.classes))
  end,
  objective = clara.losses.cross_entropy,
  metrics = { acc = clara.metrics.accuracy, f1 = function() return clara.metrics.f1{ average = "macro" } end },
  optimizer = function(model, hp) return optim.Adam(model, { lr = hp.lr }) end,
  batch_size = 64, epochs = quick and 3 or 30, seed = 0, monitor = "val_acc",
  verbose = false,   -- one line per fold below, instead of a progress bar per epoch
  out_dir = false,   -- in memory; out_dir = "runs" writes runs/cv_csv/<id>/fold-1 ... fold-5
}

-- 5. the cross-validation: a fresh model per fold, mean ± std of each metric
-- loaded by `clara run`, `clara analyze`, `clara lr-find` or a battery
-- (clara.experiment.load): the experiment; run as a script, cross-validate it here
if clara.experiment.loading() then return exp end
local cv = exp:cross_validate{ folds = 5, stratified = true }
for j, f in ipairs(cv.folds) do
  print(("fold %d: val acc %.4f, test acc %.4f"):format(j, f.metrics.val.acc, f.metrics.test.acc))
end
local s = cv.summary
print(("val  accuracy %.4f ± %.4f, macro F1 %.4f ± %.4f"):format(s.val.acc.mean, s.val.acc.std,
                                                                  s.val.f1.mean, s.val.f1.std))
print(("test accuracy %.4f ± %.4f"):format(s.test.acc.mean, s.test.acc.std))
-- the last fold's standardization saw only that fold's training rows
assert(standardize.rows < #data.train, "standardization was fitted on more than a fold's training part")
local want = quick and 0.5 or 0.7
assert(s.val.acc.mean > want, ("mean validation accuracy %.3f: training is broken"):format(s.val.acc.mean))
