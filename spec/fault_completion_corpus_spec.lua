-- The completion corpus, in this process: for each of a set of generated
-- experiment configurations (epochs, checkpoint_every, a validation set or
-- not, cross-validation or not), the run stops dead right after its N-th
-- file write, for every N (clara.fs.on_write raises; nothing else is
-- written after it, as after a kill).  After each stop "done" must imply
-- every result file; resuming as a battery does (done: skip; a checkpoint:
-- resume; else start again) must end complete, with the weights of the
-- run never stopped and each epoch once in the history.
-- spec/fault_completion_spec.lua does the same with real kills (fewer cases).
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/fault_completion_corpus_spec.lua
local torch = require "torch"
local fs = require "clara.fs"
local run = require "clara.run"
local F = require "spec.helpers.fault"
local tmpdir = F.tmpdir
teardown(function() fs.on_write = nil; F.cleanup() end)

local STOP = setmetatable({}, { __tostring = function() return "stopped after a write" end })

local function experiment(cfg)
  torch.manual_seed(5)
  local x = torch.randn(40, 3)
  local y = x[{ {}, 1 }]:gt(0):long()
  local data
  if cfg.cv then data = { train = { x, y } }
  elseif cfg.val then data = { train = { x[{ { 1, 30 } }], y[{ { 1, 30 } }] }, val = { x[{ { 31, 40 } }], y[{ { 31, 40 } }] } }
  else data = { train = { x, y } } end
  return clara.experiment {
    name = "c", data = data, seed = 2, epochs = cfg.epochs, batch_size = 10, verbose = false,
    checkpoint_every = cfg.every, metrics = { acc = clara.metrics.accuracy },
    model = function() return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)) end,
    objective = clara.losses.cross_entropy,
    optimizer = function(m) return optim.SGD(m, { lr = 0.2, momentum = 0.5 }) end,
  }
end

-- what a battery entry does with its directory
local function attempt(exp, cfg, dir)
  if run.is_done(dir) then return end
  if cfg.cv then return exp:cross_validate { folds = cfg.cv, dir = dir } end
  return exp:run { dir = dir, resume = fs.exists(fs.join(dir, "checkpoint.pt")) }
end

local function runs_of(cfg, dir)
  if not cfg.cv then return { dir } end
  local out = {}
  for j = 1, cfg.cv do out[j] = fs.join(dir, "fold-" .. j) end
  return out
end

local REQUIRED = { "config.json", "model.txt", "history.csv", "model.pt", "report.md", "report.json" }

-- done implies complete (the run, or the CV and every fold)
local function check_done(cfg, dir, what)
  if not run.is_done(dir) then return false end
  for _, r in ipairs(runs_of(cfg, dir)) do
    for _, name in ipairs(REQUIRED) do
      if not fs.exists(fs.join(r, name)) then return nil, what .. ": done without " .. fs.join(r, name) end
    end
  end
  return true
end

local function weights(path) return torch.load(fs.join(path, "model.pt")) end

local function same_result(cfg, dir, ref)
  for i, r in ipairs(runs_of(cfg, dir)) do
    local a, b = weights(r), weights(runs_of(cfg, ref)[i])
    for k, t in pairs(b) do
      if not torch.equal(t, a[k]) then return false, r .. ": " .. k .. " differs" end
    end
    local epochs = F.epochs(r)
    for e = 1, cfg.epochs do
      if epochs[e] ~= e then return false, r .. ": history epochs " .. table.concat(epochs, ",") end
    end
    if #epochs ~= cfg.epochs then return false, r .. ": history epochs " .. table.concat(epochs, ",") end
  end
  return true
end

-- the configurations: every combination
local CONFIGS = {}
for _, epochs in ipairs { 1, 2, 3 } do
  for _, every in ipairs { false, 2 } do
    for _, kind in ipairs { "train", "val", "cv" } do
      if not (kind == "cv" and epochs == 3) then
        CONFIGS[#CONFIGS + 1] = { epochs = epochs, every = every or nil, val = kind == "val",
                                  cv = kind == "cv" and 2 or nil,
                                  name = ("epochs=%d every=%s %s"):format(epochs, tostring(every), kind) }
      end
    end
  end
end

describe("a run stopped after each of its writes", function()
  it("is done only when complete, and resumes to the result of an unstopped run", function()
    local cases, bad, failing = 0, {}, 0
    for _, cfg in ipairs(CONFIGS) do
      local ref = fs.join(tmpdir(), "ref")
      attempt(experiment(cfg), cfg, ref)
      assert.is_true((check_done(cfg, ref, cfg.name)), cfg.name)
      for n = 1, 1000 do
        local dir, writes = fs.join(tmpdir(), "run"), 0
        fs.on_write = function() writes = writes + 1; if writes == n then error(STOP) end end
        local ok, err = pcall(attempt, experiment(cfg), cfg, dir)
        fs.on_write = nil
        if ok then break end   -- fewer than n writes: every point is covered
        assert.are.equal(STOP, err, cfg.name .. ": " .. tostring(err))
        cases = cases + 1
        local what = ("%s, stopped after write %d"):format(cfg.name, n)
        local before = #bad
        local _, why = check_done(cfg, dir, what)
        if why then bad[#bad + 1] = why end
        -- resumed until done (a stop leaves at most one more attempt to do)
        attempt(experiment(cfg), cfg, dir)
        local done, why2 = check_done(cfg, dir, what)
        if not done then bad[#bad + 1] = why2 or (what .. ": not done after the resume") end
        if done then
          local same, why3 = same_result(cfg, dir, ref)
          if not same then bad[#bad + 1] = what .. ": " .. why3 end
        end
        if #bad > before then failing = failing + 1 end
      end
    end
    print(("\ncompletion corpus: %d configurations, %d stop points, %d failing"):format(#CONFIGS, cases, failing))
    if #bad > 0 then print(table.concat(bad, "\n", 1, math.min(#bad, 10))) end
    assert.are.same({}, bad)
    assert.is_true(cases >= 150, cases .. " cases")
  end)
end)
