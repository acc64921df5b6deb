-- clara.experiment.load: an experiment script's experiment, and how the
-- script knows it is being loaded rather than run.
--
--   local exp = clara.experiment.load("examples/fashion_mlp.lua")
--
-- An experiment script builds its experiment and returns it.  `clara run`,
-- `clara analyze`, `clara lr-find` and batteries load it with this; run
-- directly (`clara examples/fashion_mlp.lua`) it may train it itself, and
-- tells the two cases apart with
--
--   if clara.experiment.loading() then return exp end
--   local result = exp:run()
--
-- loading() is true while load (or call) runs a script.
local E = require "clara.error"

local M = {}

local depth = 0

function M.loading() return depth > 0 end

-- call(chunk, ...) -> what the loaded chunk returns, run with loading() true
function M.call(chunk, ...)
  depth = depth + 1
  local r = table.pack(pcall(chunk, ...))
  depth = depth - 1
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

-- load(path) -> the clara.experiment the script at path returns (an
-- experiment, or the table clara.experiment takes)
function M.load(path)
  local API = "clara.experiment.load"
  if type(path) ~= "string" then E.raise(API, "a file name expected, got %s", E.show(path)) end
  local chunk, err = loadfile(path)
  if not chunk then E.raise(API, "%s", err) end
  local spec = M.call(chunk)
  local experiment = require "clara.experiment"
  if type(spec) ~= "table" then
    E.raise(API, "'%s' must return an experiment (clara.experiment{...} or the table it takes), got %s",
      path, type(spec))
  end
  return getmetatable(spec) == experiment.Experiment and spec or experiment(spec)
end

return M
