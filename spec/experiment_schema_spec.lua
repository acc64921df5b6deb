-- The experiment option schema (clara.experiment.options): one entry per
-- option drives validation (clara.experiment{...}, exp:with, exp:set),
-- `clara run --help`, docs/options.md and config.json.  A generated corpus
-- of bad values (every option x the wrong values for its kind x the three
-- ways in) must each raise naming clara.experiment, the option and the
-- caller's line; every option's default is accepted and filled in.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/experiment_schema_spec.lua
local torch = require "torch"
local clara = require "clara"
local O = require "clara.experiment.options"
local fs = require "clara.fs"
local L = clara.losses

local CLARA = fs.join(require("lfs").currentdir(), "clara")
local sh = require("spec.helpers.shell").sh

local ds = clara.data.TensorDataset(torch.randn(8, 2), torch.randint(0, 2, { 8 }))
local function base_spec()
  return { data = ds, model = function() return nn.Linear(2, 2) end, objective = L.cross_entropy,
           optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end, verbose = false, out_dir = false,
           batch_size = 4, hparams = { lr = 0.1 } }
end
local base = clara.experiment(base_spec())

-- {====================== the corpus ======================

local NAN, INF = 0 / 0, math.huge
local callable_table = setmetatable({}, { __call = function() end })

-- wrong values by kind (a kind is the schema's type; enums and checks add theirs)
local WRONG = {
  integer = { "x", true, {}, 1.5, NAN, INF, -INF, "3" },
  number = { "x", true, {}, NAN, "0.1" },
  boolean = { "yes", 1, 0, {}, "true" },
  string = { 1, true, {} },
  ["string|boolean"] = { 1, {}, true, "" },
  ["boolean|number"] = { "yes", {}, 3, -1, 0.5, NAN },
  ["function"] = { 1, "f", {}, true, callable_table },
  table = { 1, "x", true },
  callable = { 1, "x", {}, true },
  any = {},
}

local EXTRA = {
  name = { "", "a/b", "..", "." },
  hparams = { setmetatable({}, {}) },
  classes = { {}, { 1, 2 }, { "a", 3 } },
  hooks = { { on_epoch_end = 1 }, { on_run_start = "f" }, { on_epoch_ned = function() end },
            { on_step = function() end }, { [1] = function() end } },
  batcher = { 3, "x", {}, { batches = 1 } },
}

local function wrong_values(s)
  local out = {}
  for _, v in ipairs(WRONG[s.type]) do out[#out + 1] = v end
  if s.min then
    out[#out + 1] = s.min - 1
    if s.type == "number" then out[#out + 1] = s.min - 1e-9 end
  end
  if s.enum then
    for _, v in ipairs { "sideways", "", s.enum[1]:upper(), s.enum[1] .. " " } do out[#out + 1] = v end
  end
  for _, v in ipairs(EXTRA[s.name] or {}) do out[#out + 1] = v end
  return out
end

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "table" then return getmetatable(v) and "<table with metatable>" or "<table>" end
  return tostring(v)
end

-- the three ways a value reaches an experiment
local WAYS = {
  new = function(name, v) local s = base_spec(); s[name] = v; return clara.experiment(s) end,
  with = function(name, v) return base:with { [name] = v } end,
  set = function(name, v) return base:set { [name] = v } end,
}

local cases = {}
for _, s in ipairs(O.list) do
  for _, v in ipairs(wrong_values(s)) do
    for _, way in ipairs { "new", "with", "set" } do
      -- exp:set{hparams = ...} names no setting: it is refused as unknown, tested below
      if not (way == "set" and s.name == "hparams") then
        cases[#cases + 1] = { option = s.name, value = v, way = way }
      end
    end
  end
end
-- }================================================================

local POSITION = "^[^\n]*experiment_schema_spec%.lua:%d+: clara%.experiment: "

describe("experiment option schema", function()
  it(("rejects every wrong value, each way in (%d generated cases)"):format(#cases), function()
    assert.is_true(#cases >= 300, "the corpus shrank: " .. #cases)
    local failures = {}
    for _, c in ipairs(cases) do
      local ok, err = pcall(WAYS[c.way], c.option, c.value)
      local why
      if ok then why = "accepted"
      elseif type(err) ~= "string" then why = "error is a " .. type(err)
      elseif not err:find(POSITION) then why = "not at the caller's line: " .. err
      elseif not err:find(c.option, 1, true) then why = "does not name the option: " .. err
      elseif #err > 600 then why = "too long: " .. err
      end
      if why then failures[#failures + 1] = ("%s %s = %s: %s"):format(c.way, c.option, show(c.value), why) end
    end
    assert.are.equal(0, #failures, ("%d of %d cases fail:\n"):format(#failures, #cases) .. table.concat(failures, "\n"))
  end)

  it("accepts every option's default and fills it in", function()
    for _, s in ipairs(O.list) do
      if s.default ~= nil then
        local spec = base_spec()
        spec[s.name] = nil
        if s.name ~= "verbose" and s.name ~= "out_dir" then
          assert.are.same(s.default, clara.experiment(spec)[s.name], s.name)
        end
        spec[s.name] = s.default
        assert.has_no.errors(function() clara.experiment(spec) end, s.name)
      end
    end
  end)

  it("names a missing required option and what it must be", function()
    for _, s in ipairs(O.list) do
      if s.required then
        local spec = base_spec()
        spec[s.name] = nil
        local ok, err = pcall(clara.experiment, spec)
        assert.is_false(ok)
        assert.matches(POSITION .. s.name .. " is required %(", err)
      end
    end
  end)

  it("suggests the closest option for a misspelt one", function()
    for _, s in ipairs(O.list) do
      local typo = s.name:sub(1, -2)   -- "epoch", "batch_siz"
      if O.schema[typo] then typo = s.name .. "s" end   -- "model" -> "mode" is an option
      local spec = base_spec()
      spec[typo] = 1
      local ok, err = pcall(clara.experiment, spec)
      assert.is_false(ok)
      assert.matches(POSITION .. "unknown option '" .. typo:gsub("%p", "%%%0") .. "'", err)
      assert.truthy(err:find("did you mean '" .. s.name .. "'", 1, true) or #typo <= 3, err)
    end
    local ok, err = pcall(function() base:set { epoch = 3 } end)
    assert.is_false(ok)
    assert.matches("unknown setting 'epoch'.*did you mean 'epochs'%?", err)
  end)

  it("every entry has a type, a doc line, and a kind help can print", function()
    local seen = {}
    for _, s in ipairs(O.list) do
      assert.is_string(s.name); assert.is_nil(seen[s.name], s.name); seen[s.name] = true
      assert.is_string(s.type, s.name)
      assert.is_string(s.doc, s.name); assert.is_nil(s.doc:find("\n"), s.name)
      assert.is_string(O.kind(s)); assert.is_string(O.default_text(s))
    end
  end)

  it("`clara run --help` lists every option with its type, default and doc", function()
    local text, rc = sh(CLARA .. " run --help")
    assert.are.equal(0, rc, text)
    for _, s in ipairs(O.list) do
      local line = text:match("\n  [= ]" .. s.name:gsub("%p", "%%%0") .. " +([^\n]*)")
      assert.truthy(line, "--help does not list " .. s.name)
      assert.truthy(line:find(O.kind(s), 1, true), s.name .. ": " .. line)
      assert.truthy(line:find(O.default_text(s), 1, true), s.name .. ": " .. line)
      assert.truthy(text:find(s.doc, 1, true), s.name)
    end
  end)

  it("docs/options.md is what `clara run --help --markdown` generates", function()
    local text, rc = sh(CLARA .. " run --help --markdown")
    assert.are.equal(0, rc)
    local committed = fs.read("docs/options.md")
    assert.truthy(committed, "docs/options.md is missing")
    assert.are.equal(O.markdown() .. "\n", text)
    assert.are.equal(text, committed, "docs/options.md is stale: run ./clara run --help --markdown > docs/options.md")
    for _, s in ipairs(O.list) do assert.truthy(committed:find("| `" .. s.name .. "` |", 1, true), s.name) end
  end)

  it("every option --set can give reaches config.json through exp:run{set = ...}", function()
    local dir = os.tmpname(); os.remove(dir)
    finally(function() os.execute("rm -rf '" .. dir .. "'") end)
    -- a valid value other than the default, by kind
    local function other(s)
      if s.enum then return s.enum[#s.enum] ~= s.default and s.enum[#s.enum] or s.enum[1] end
      if s.type == "boolean" then return not s.default end
      if s.type == "integer" then return (s.default or s.min) + 1 end
      if s.type == "number" then return 0.5 end
      -- device: the one this build has is the default, set explicitly
      return ({ name = "named", monitor = "train_loss", device = "cpu" })[s.name]
    end
    local n = 0
    for _, s in ipairs(O.list) do
      if O.settable(s) and not s.invocation then
        local v = other(s)
        assert.is_not_nil(v, s.name)
        local r = base:with({ out_dir = dir, epochs = 1 }):run { set = { [s.name] = v } }
        assert.are.equal(v, clara.run.read(r.dir).config[s.name], s.name)
        n = n + 1
      end
    end
    assert.is_true(n >= 20)
  end)

  it("config.json records every setting the schema marks, and which were unset", function()
    local dir = os.tmpname(); os.remove(dir)
    finally(function() os.execute("rm -rf '" .. dir .. "'") end)
    local r = base:with { out_dir = dir, name = "cfg", epochs = 1, patience = 2, classes = { "a", "b" } }:run()
    local cfg = clara.run.read(r.dir).config
    local unset = {}
    for _, n in ipairs(cfg.unset) do unset[n] = true end
    for _, s in ipairs(O.list) do
      if s.script or s.invocation then
        assert.is_nil(cfg[s.name], s.name .. " is code, an object or a setting of one command")
      else
        assert.is_true(cfg[s.name] ~= nil or unset[s.name] == true, s.name .. " is not recorded")
      end
    end
    assert.are.equal(2, cfg.patience)
    assert.are.same({ "a", "b" }, cfg.classes)
    assert.is_true(unset.monitor)
  end)
end)
