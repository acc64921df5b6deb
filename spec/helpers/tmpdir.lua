-- tmpdir() makes a fresh empty directory; cleanup() removes every one made.
--   local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua"); teardown(cleanup)
local fs = require "clara.fs"

local made = {}
local function tmpdir()
  local d = os.tmpname(); os.remove(d); fs.mkdir_p(d); made[#made + 1] = d; return d
end
local function cleanup()
  for _, d in ipairs(made) do os.execute("rm -rf '" .. d .. "'") end
  made = {}
end
return tmpdir, cleanup
