-- clara tests/slurm/numbers.lua REPORT.json: every number of a run's report
-- (the metrics of every epoch, the best and final ones, steps, ...) as
-- "path=value" lines with every digit, times and paths left out: two runs
-- of the same arithmetic print the same lines
local cjson = require "cjson"
local f = assert(io.open(arg[1]))
local r = cjson.decode(f:read("a"))
f:close()
local out = {}
local function walk(prefix, v)
  if type(v) == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      -- times and places differ between two runs of the same numbers
      if not tostring(k):match("time") and not tostring(k):match("dir") and not tostring(k):match("date")
         and not tostring(k):match("host") and not tostring(k):match("path") then
        walk(prefix .. "." .. tostring(k), v[k])
      end
    end
  elseif type(v) == "number" then
    out[#out + 1] = ("%s=%.17g"):format(prefix, v)
  end
end
walk("report", r)
print(table.concat(out, "\n"))
