-- clara.train.keep: the per-epoch checkpoints a run keeps besides
-- checkpoint.pt (its resume point), as Lightning's ModelCheckpoint does:
--
--   checkpoints = {save_top_k = 3, save_last = 2}
--
-- keeps <run>/checkpoints/epoch-0007.pt (each a whole resumable
-- checkpoint, written at the epoch's end) for the save_top_k best epochs by
-- the experiment's monitored value and mode (-1: every epoch) and for the
-- save_last last epochs, and deletes the others.  The kept set, with each
-- epoch's value, is <run>/checkpoints.json (and the report's `checkpoints`).
--
-- Order of the writes, so that the kept set never lacks a file it lists:
-- the new epoch's file, then checkpoints.json, then the deletions.  A
-- process killed in between leaves files beyond the policy: the next start
-- (a resume) reconciles the directory with the history it resumes from
-- (an epoch it has not reached yet is redone, so its file goes; a file
-- checkpoints.json never listed is judged by its history row), and removes
-- the temporaries of a killed write (a partial file is never a checkpoint:
-- every file is written under a temporary name and renamed whole).
local fs = require "clara.fs"
local json = require "clara.run.json"
local E = require "clara.error"

local M = {}

M.DIR, M.INDEX = "checkpoints", "checkpoints.json"

-- {====================== the option ======================

M.SCHEMA = {
  save_top_k = { type = "integer", min = -1, default = 0,
                 doc = "keep the checkpoints of the k best epochs by monitor and mode (-1: every epoch)" },
  save_last = { type = "integer", min = 0, default = 0, doc = "keep the checkpoints of the k last epochs" },
  save_on_error = { type = "boolean", default = true,
                    doc = "when the run raises, write checkpoint.pt at the last step boundary" },
}
local NAMES = { "save_on_error", "save_last", "save_top_k" }

-- the experiment option's check (clara.experiment.options): ok, why
function M.check(v)
  for k, x in pairs(v) do
    local spec = type(k) == "string" and M.SCHEMA[k]
    if not spec then
      local near = type(k) == "string" and E.closest(k, NAMES)
      return false, ("has no key %s%s (keys: %s)"):format(E.show(k),
        near and (" (did you mean '" .. near .. "'?)") or "", table.concat(NAMES, ", "))
    end
    local why = E.check_value(spec, x)
    if why then return false, ("%s %s"):format(k, why) end
  end
  return true
end

-- the policy with its defaults (nil: the option unset)
function M.policy(v)
  local p = {}
  for k, spec in pairs(M.SCHEMA) do
    local x = v and v[k]
    if x == nil then x = spec.default end
    p[k] = x
  end
  p.active = p.save_top_k ~= 0 or p.save_last > 0
  return p
end
-- }================================================================

-- {====================== which epochs stay ======================

local function worse(mode, a, b)
  -- a missing or NaN value ranks last
  local na, nb = a == nil or a ~= a, b == nil or b ~= b
  if na or nb then return na and not nb end
  if mode == "max" then return a < b end
  return a > b
end

-- kept(entries, policy, mode) -> the entries ({epoch =, value =}) that
-- stay, by epoch: the best save_top_k (ties: the earlier epoch) and the
-- last save_last
function M.kept(entries, policy, mode)
  local stay = {}
  local by_value, by_epoch = {}, {}
  for i, e in ipairs(entries) do by_value[i], by_epoch[i] = e, e end
  table.sort(by_value, function(a, b)
    if worse(mode, a.value, b.value) then return false end
    if worse(mode, b.value, a.value) then return true end
    return a.epoch < b.epoch
  end)
  table.sort(by_epoch, function(a, b) return a.epoch > b.epoch end)
  local k = policy.save_top_k < 0 and #entries or policy.save_top_k
  for i = 1, math.min(k, #by_value) do stay[by_value[i].epoch] = by_value[i] end
  for i = 1, math.min(policy.save_last, #by_epoch) do stay[by_epoch[i].epoch] = by_epoch[i] end
  local out = {}
  for _, e in pairs(stay) do out[#out + 1] = e end
  table.sort(out, function(a, b) return a.epoch < b.epoch end)
  return out
end
-- }================================================================

-- {====================== the directory ======================

function M.name(epoch) return ("epoch-%04d.pt"):format(epoch) end
local function epoch_of(name) return math.tointeger(tonumber(name:match("^epoch%-(%d+)%.pt$"))) end

local Keeper = {}
Keeper.__index = Keeper

-- new(r, policy, monitor, mode) -> the kept set of run r
function M.new(r, policy, monitor, mode)
  return setmetatable({ r = r, policy = policy, monitor = monitor, mode = mode, entries = {},
                        dir = r:path(M.DIR) }, Keeper)
end

function Keeper:path(epoch) return fs.join(self.dir, M.name(epoch)) end

-- the kept set as checkpoints.json and the report show it
function Keeper:list()
  local out = {}
  for i, e in ipairs(self.entries) do
    out[i] = { epoch = e.epoch, value = e.value, file = M.DIR .. "/" .. M.name(e.epoch) }
  end
  return out
end

local function write_index(self)
  fs.write_atomic(self.r:path(M.INDEX), json.encode { monitor = self.monitor, mode = self.mode,
    save_top_k = self.policy.save_top_k, save_last = self.policy.save_last, kept = self:list() })
end

-- the files in checkpoints/ by epoch
local function on_disk(self)
  local found = {}
  if not fs.isdir(self.dir) then return found end
  for name in require("lfs").dir(self.dir) do
    local e = epoch_of(name)
    if e then found[e] = true end
  end
  return found
end

-- the kept set becomes `entries`: the index first, then the deletions of
-- every file not in it
local function settle(self, entries)
  self.entries = entries
  write_index(self)
  local keep = {}
  for _, e in ipairs(entries) do keep[e.epoch] = true end
  for e in pairs(on_disk(self)) do
    if not keep[e] then os.remove(self:path(e)) end
  end
end

-- start(history, source): the directory reconciled with the history a run
-- starts (or resumes) from: what a killed process left beyond the policy
-- goes.  source: the epoch-end checkpoint resumed from, kept for its epoch
-- when a kill came before its file was
function Keeper:start(history, source)
  fs.remove_stale_temps(self.dir)
  local value, last = {}, 0
  for _, row in ipairs(history or {}) do
    value[row.epoch] = row[self.monitor]
    last = math.max(last, row.epoch)
  end
  local entries, files = {}, on_disk(self)
  for e in pairs(files) do
    if e <= last and value[e] ~= nil then entries[#entries + 1] = { epoch = e, value = value[e] } end
  end
  local missing = source and last > 0 and not files[last] and { epoch = last, value = value[last] } or nil
  if missing then entries[#entries + 1] = missing end
  if #entries == 0 and not fs.exists(self.r:path(M.INDEX)) and not fs.isdir(self.dir) then return end
  local kept = M.kept(entries, self.policy, self.mode)
  for _, e in ipairs(kept) do
    if e == missing then fs.mkdir_p(self.dir); M.place(source, self:path(e.epoch)) end
  end
  settle(self, kept)
end

-- epoch_end(row, source): the epoch's file (a hard link to source, the
-- checkpoint.pt just written, or a copy of it), when the policy keeps it
function Keeper:epoch_end(row, source)
  local entry = { epoch = row.epoch, value = row[self.monitor] }
  local candidates = { entry }
  for _, e in ipairs(self.entries) do
    if e.epoch ~= entry.epoch then candidates[#candidates + 1] = e end
  end
  local entries = M.kept(candidates, self.policy, self.mode)
  for _, e in ipairs(entries) do
    if e == entry then
      fs.mkdir_p(self.dir)
      M.place(source, self:path(entry.epoch))
    end
  end
  settle(self, entries)
end

-- place(source, target): target holds source's bytes, whole or not at all:
-- a hard link (no copy) or a copy, under a temporary name, renamed over it
function M.place(source, target)
  local tmp = target .. fs.TEMP_MARK .. require("clara.signal").getpid() .. "-link"
  os.remove(tmp)
  if not require("lfs").link(source, tmp) then
    local bytes = fs.read(source)
    if not bytes then E.raise("clara.experiment", "cannot read '%s' to keep it as '%s'", source, target) end
    return fs.write_atomic(target, bytes)
  end
  local ok, err = os.rename(tmp, target)
  if not ok then
    os.remove(tmp)
    E.raise("clara.experiment", "cannot keep '%s': %s", target, tostring(err))
  end
  require("clara.signal.core").fsync_dir(fs.dirname(target))
  fs.written(target)
end
-- }================================================================

return M
