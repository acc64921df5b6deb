-- Count the hostile-file corpus' failures per family for a clara build:
--   ./clara tests/hostile/measure.lua [CLARA [CHUNK [TIMEOUT]]]
-- (children get 2 GiB of address space and TIMEOUT seconds per CHUNK cases:
-- a case that hangs or exhausts memory counts as failing)
-- (the spec runs the same cases against ./clara and wants none)
package.path = "./?.lua;" .. package.path
local hostile = require "spec.helpers.hostile"
local dir = os.tmpname()
os.remove(dir)
local cases = hostile.generate(dir)
local only = os.getenv("FAMILY") -- one family (several runs may go in parallel)
if only then
  local kept = {}
  for _, c in ipairs(cases) do if only:find(c.family, 1, true) then kept[#kept + 1] = c end end
  cases = kept
  local f = assert(io.open(dir .. "/cases.tsv", "w")) -- the children read the list
  for _, c in ipairs(cases) do
    f:write(table.concat({ c.family, c.id, c.reader, c.path, c.expect, c.setup or "", c.check or "" }, "\t"), "\n")
  end
  f:close()
end
local results = hostile.run(cases, dir, { clara = arg[1] or "./clara", chunk = tonumber(arg[2]) or 40,
                                          timeout = tonumber(arg[3]) or 8, vmem = 2 * 1024 * 1024 })
for _, family in ipairs { "pickle", "jit", "npz", "special" } do
  local failures, n = hostile.failures(cases, results, family)
  if n == 0 then goto next end
  local kinds = {}
  for _, f in ipairs(failures) do
    local k = f:match("^%S+ %b(): (%a+)") or "?"
    kinds[k] = (kinds[k] or 0) + 1
  end
  local parts = {}
  for k, v in pairs(kinds) do parts[#parts + 1] = k .. "=" .. v end
  table.sort(parts)
  print(("%-8s %4d cases, %4d failing (%s)"):format(family, n, #failures, table.concat(parts, " ")))
  if os.getenv("VERBOSE") then for _, f in ipairs(failures) do print("  " .. f:sub(1, 200)) end end
  ::next::
end
os.execute("rm -rf '" .. dir .. "'")
