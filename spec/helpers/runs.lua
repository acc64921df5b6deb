-- The run directories a spec's experiment left under parent (its
-- out_dir/<name>), sorted; none when parent does not exist.
-- Not a spec itself (no "_spec").
local fs = require "clara.fs"

return function(parent)
  local out = {}
  if fs.isdir(parent) then
    for name in require("lfs").dir(parent) do
      if name:sub(1, 1) ~= "." then out[#out + 1] = fs.join(parent, name) end
    end
  end
  table.sort(out)
  return out
end
