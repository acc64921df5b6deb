-- Runs cases FROM..TO of the hostile TorchScript source corpus
-- (spec/helpers/jit_sources.lua) for spec/hostile_jit_spec.lua, one line
-- before and one after each, flushed, so that the parent can tell which
-- case a crash or a hang happened in.  Not a spec itself.
--   ./clara spec/helpers/jit_source_child.lua FROM TO
local torch = require "torch"
local limits = require "clara.limits"
local sources = dofile("spec/helpers/jit_sources.lua")

local from, to = tonumber(arg[1]), tonumber(arg[2])
local cases = sources.cases(limits.script_depth, limits.script_terms)
local x = torch.tensor { 1.5, -2, 3 }

local function verdict(case, ok, result)
  if not ok then
    local limit = tostring(result):match("over the limit clara%.limits%.([%w_]+)")
    if limit then return "refused:" .. limit end
    return "error:" .. tostring(result):sub(1, 300):gsub("\n", " ")
  end
  if case.check == nil then return "accepted" end
  local got_ok, got = pcall(result.forward, result, x)
  if not got_ok then return "error in forward:" .. tostring(got):sub(1, 300):gsub("\n", " ") end
  local want
  if case.check == "x" then want = x
  elseif case.check == "neg" then want = -x
  elseif case.check == "times" then want = x * (case.n + 1)
  elseif case.check == "negtimes" then want = -x * (case.n + 1)
  elseif case.check == "bool" then
    return type(got) == "boolean" and "accepted" or "wrong result: " .. tostring(got)
  end
  if torch.is_tensor(got) and torch.equal(got, want) then return "accepted" end
  return "wrong result: " .. tostring(got)
end

for i = from, math.min(to, #cases) do
  local case = cases[i]
  io.stdout:write("start ", i, "\n")
  io.stdout:flush()
  local saved = {}
  for k, v in pairs(case.raise or {}) do saved[k], limits[k] = limits[k], v end
  local t0 = os.clock()
  local v = verdict(case, pcall(torch.jit.compile, case.src))
  local dt = os.clock() - t0
  for k, v0 in pairs(saved) do limits[k] = v0 end
  io.stdout:write("done ", i, " ", ("%.2f "):format(dt), v, "\n")
  io.stdout:flush()
  collectgarbage()
end
