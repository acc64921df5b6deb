-- Run hostile-file cases (tests/hostile/make_corpus.py) in this process,
-- one result line per case, flushed, so that the parent
-- (spec/hostile_files_spec.lua) sees which case a crash or hang stopped:
--   ./clara tests/hostile/run_cases.lua CASES.tsv FIRST LAST
-- prints "<id>\tok" or "<id>\terr\t<message>" or "<id>\tcheck\t<why>".
local cases_file, first, last = arg[1], tonumber(arg[2]) or 1, tonumber(arg[3]) or math.huge
local data = require "clara.data"
local limits = require "clara.limits"

local readers = {
  ["torch.load"] = torch.load,
  ["jit.load"] = torch.jit.load,
  ["nn.load"] = nn.load,
  ["jit.forward"] = function(p)
    local m = torch.jit.load(p)
    return m:forward(torch.ones(2, 3))
  end,
  read_pt = data.read_pt,
  read_npy = data.read_npy,
  read_npz = data.read_npz,
  read_idx = data.read_idx,
  read_idx_lua = function(p) return data.read_idx(p, { impl = "lua" }) end,
  read_csv = data.read_csv,
  read_dir_npy = function(p) return data.read_dir(p) end,
  read_dir_csv = function(p) return data.read_dir(p, { ext = ".csv" }) end,
}

-- (a build without these limits, measured for comparison, has none)
local defaults = {}
for _, k in ipairs { "pickle_depth", "script_depth", "script_terms", "npz_bytes" } do
  local ok, v = pcall(function() return limits[k] end)
  if ok then defaults[k] = v end
end

local n = 0
for line in io.lines(cases_file) do
  n = n + 1
  if n >= first and n <= last then
    local f = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
    local id, reader, path, setup, check = f[2], f[3], f[4], f[6] or "", f[7] or ""
    for k, v in pairs(defaults) do limits[k] = v end
    if setup ~= "" then pcall(assert(load(setup, "=setup", "t", { clara = { limits = limits } }))) end
    local ok, v = pcall(readers[reader], path)
    local out
    if not ok then
      out = id .. "\terr\t" .. tostring(v):gsub("[\t\n]", " "):sub(1, 400)
    elseif check ~= "" then
      local f = assert(load("local v = ...; return " .. check, "=check", "t", _ENV))
      local good, res = pcall(f, v)
      out = id .. ((good and res) and "\tok" or ("\tcheck\t" .. tostring(res)))
    else
      out = id .. "\tok"
    end
    io.stdout:write(out, "\n")
    io.stdout:flush()
    v = nil
    if n % 20 == 0 then collectgarbage() end
  end
end
