-- clara: the experiment system.  Its pieces load on first use
-- (clara.data, ...), so `require "clara"` stays cheap.
local clara = { version = "0.1.0" }

setmetatable(clara, {
  __index = function(self, key)
    local ok, mod = pcall(require, "clara." .. key)
    if ok then
      rawset(self, key, mod)
      return mod
    end
    if not tostring(mod):find("module 'clara." .. key .. "' not found", 1, true) then
      error(mod, 2)
    end
  end,
})

return clara
