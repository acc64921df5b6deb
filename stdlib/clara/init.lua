-- clara: the experiment system.  Its pieces load on first use
-- (clara.data, ...), so `require "clara"` stays cheap.  A name that is not
-- one of them raises, naming the closest (clara.metric -> 'metrics').
local E = require "clara.error"

local clara = { version = "0.1.0" }

-- the submodules under stdlib/clara: its .lua files and the directories
-- with an init.lua (spec/badcalls_clara_names_spec.lua checks this list
-- against the directory)
clara.SUBMODULES = {
  "analyze", "battery", "compare", "cv", "data", "error", "experiment", "fs", "limits",
  "load_run", "losses", "metrics", "plot", "postprocess", "regularizers", "report", "run",
  "scripts", "signal", "stats", "transforms",
}

local function load(self, key)
  local ok, mod = pcall(require, "clara." .. key)
  if ok then
    rawset(self, key, mod)
    return mod
  end
  if not tostring(mod):find("module 'clara." .. key .. "' not found", 1, true) then
    error(mod, 2)
  end
end

return E.namespace(clara, "clara", clara.SUBMODULES, load)
