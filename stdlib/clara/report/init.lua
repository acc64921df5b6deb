-- clara.report: an HTML report with charts of a run, a cross-validation or
-- a battery directory (see clara.run, exp:cross_validate, clara.battery).
--
--   local reports = clara.report.build("runs/mlp/20250101-120000-ab12")
--   -- reports[1].html == "runs/mlp/20250101-120000-ab12/report/report.html"
--   clara.report.build({run_a, run_b}, {out = "cmp"})  -- one page, a section each
--   clara.report.build({run_a, run_b})                 -- a report inside each
--
-- A report directory holds report.html (self-contained: images embedded
-- as data: URIs, no network) and, for each chart, NAME.png, NAME.svg,
-- NAME.dat and NAME.gp (re-draw with `gnuplot NAME.gp` there).
-- Every directory is read before anything is written: one that is not a
-- run, CV or battery directory, or holds a corrupt JSON file, is an error
-- and nothing is written.  The report is built in a temporary directory
-- and renamed into place, replacing an earlier report whole; a directory
-- that is not an earlier clara report is never replaced.
-- Options: out = DIR, embed = "png" | "svg" (what report.html embeds).
local fs = require "clara.fs"
local E = require "clara.error"
local lfs = require "lfs"
local core = require "clara.signal.core"
local load = require "clara.report.load"
local html = require "clara.report.html"
local C = require "clara.report.common"

local report = {}

report.load = load

local SECTIONS = { run = "clara.report.run", cv = "clara.report.cv", battery = "clara.report.battery" }
local KIND_NAME = { run = "run", cv = "cross-validation", battery = "battery" }

local function fail(msg) require("clara.error").raise("clara.report", msg) end

-- {==================== the output directory ====================

-- remove a directory tree (a report we made: plain files and directories)
local function remove_tree(path)
  if lfs.attributes(path, "mode") == "directory" then
    for name in lfs.dir(path) do
      if name ~= "." and name ~= ".." then remove_tree(fs.join(path, name)) end
    end
    lfs.rmdir(path)
  else
    os.remove(path)
  end
end

-- may out be replaced?  Only when absent, empty, or an earlier report.
local function check_replaceable(out)
  local mode = lfs.attributes(out, "mode")
  if mode == nil then return end
  if mode ~= "directory" then fail(("'%s' exists and is not a directory"):format(out)) end
  local page = fs.read(fs.join(out, "report.html"))
  if page and page:find(('<meta name="generator" content="%s">'):format(html.GENERATOR), 1, true) then return end
  for name in lfs.dir(out) do
    if name ~= "." and name ~= ".." then
      fail(("'%s' exists and is not a clara report; not overwriting it (choose another --out)"):format(out))
    end
  end
end

local serial = 0
local function temp_path(out, mark)
  serial = serial + 1
  return ("%s%s%06x"):format(out, mark, (core.getpid() * 7919 + serial * 104729 + os.time()) % 0x1000000)
end

-- write(out, fill): fill(tmp) writes the report into a fresh temporary
-- directory next to out, which then replaces out
local function write(out, fill)
  fs.mkdir_p(fs.dirname(out))
  local tmp = temp_path(out, fs.TEMP_MARK)
  fs.mkdir_p(tmp)
  local ok, err = pcall(fill, tmp)
  if not ok then remove_tree(tmp); error(err, 0) end
  -- the old report aside, the new one in, the old one gone
  local old
  if fs.exists(out) then
    old = temp_path(out, ".old-")
    local moved, merr = os.rename(out, old)
    if not moved then remove_tree(tmp); fail(("cannot replace '%s': %s"):format(out, tostring(merr))) end
  end
  local renamed, rerr = os.rename(tmp, out)
  if not renamed then
    if old then os.rename(old, out) end
    remove_tree(tmp)
    fail(("cannot write '%s': %s"):format(out, tostring(rerr)))
  end
  if old then remove_tree(old) end
end
-- }====================

-- a section's blocks, under its own heading when the page has several
local function section_blocks(item, canvas, several)
  local blocks = require(SECTIONS[item.kind]).blocks(item, canvas)
  if not several then return blocks end
  local out = { { kind = "h2", text = ("%s: %s (%s)"):format(KIND_NAME[item.kind], item.title, item.dir) } }
  for _, b in ipairs(blocks) do
    if b.kind == "h2" then b = { kind = "h3", text = b.text } end
    out[#out + 1] = b
  end
  return out
end

local function page_title(items)
  if #items == 1 then return ("%s report: %s"):format(KIND_NAME[items[1].kind], items[1].title) end
  return ("report: %d directories"):format(#items)
end

-- one report directory from the loaded items
local function render(items, out, opts)
  write(out, function(tmp)
    local blocks, sources = {}, {}
    for i, item in ipairs(items) do
      -- several sections draw into their own subdirectories: no name clashes
      local dir = tmp
      if #items > 1 then
        dir = fs.join(tmp, (("%02d-%s"):format(i, item.dir:match("[^/]*$")):gsub("[^%w_%.%-]+", "_")))
      end
      local canvas = C.canvas(dir, { "png", "svg" })
      for _, b in ipairs(section_blocks(item, canvas, #items > 1)) do blocks[#blocks + 1] = b end
      sources[#sources + 1] = item.dir
    end
    fs.write_atomic(fs.join(tmp, "report.html"),
                    html.page(page_title(items), blocks, { embed = opts.embed, sources = sources }))
  end)
  return { dir = out, html = fs.join(out, "report.html") }
end

local BUILD_OPTS = {
  out = { type = "string", check = function(v) return v ~= "", "must be a directory name, got ''" end,
          doc = "one page for all the directories, in this directory" },
  embed = { type = "string", enum = { "png", "svg" }, doc = "the charts' format inside the page" },
}

-- build(dirs, {out =, embed =}) -> {{dir =, html =}, ...}
function report.build(dirs, opts)
  -- 1. arguments
  if type(dirs) == "string" then dirs = { dirs } end
  if type(dirs) ~= "table" or #dirs == 0 then
    E.raise(nil, "clara.report.build: a directory or a list of directories expected, got " .. type(dirs))
  end
  opts = E.options("clara.report.build", opts, BUILD_OPTS)
  -- 2. every directory read (and every output checked) before any write
  local ok, res = pcall(function()
    local items = {}
    for i, d in ipairs(dirs) do items[i] = load.load((d:gsub("(.)/+$", "%1"))) end
    local plan = {}
    if opts.out or #items == 1 then
      plan[1] = { items = items, out = opts.out or fs.join(items[1].dir, "report") }
    else
      for i, item in ipairs(items) do plan[i] = { items = { item }, out = fs.join(item.dir, "report") } end
    end
    for _, p in ipairs(plan) do check_replaceable(p.out) end
    -- 3. the reports
    local written = {}
    for i, p in ipairs(plan) do written[i] = render(p.items, p.out, opts) end
    return written
  end)
  if not ok then error(res, 0) end -- raised at the user's line already
  return res
end

-- a misspelt name raises, naming the closest
return require("clara.error").namespace(report, "clara.report")
