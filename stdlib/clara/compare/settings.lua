-- clara.compare.settings: which settings differ between the compared
-- runs (config.json's hparams and experiment fields), what `clara compare`
-- shows first.
--
--   local keys = settings.differing(models)  -- {"hidden", "lr"}
--   settings.value(models[1], "lr")          -- 0.1
local json = require "clara.run.json"

local M = {}

-- config.json keys that describe the run, not the experiment's settings
local BOOKKEEPING = { run_id = true, out_dir = true, kind = true, handle_signals = true, verbose = true,
                      changes = true, experiment = true, clara_version = true, lua_version = true,
                      libtorch_version = true }

-- the settings of a model: hparams by their own names ("lr"), the other
-- fields too (an hparam and a field of one name: the hparam's "hparams.x")
local function flatten(config)
  local out = {}
  if type(config) ~= "table" then return out end
  for k, v in pairs(config) do
    if k ~= "hparams" and not BOOKKEEPING[k] then out[k] = v end
  end
  for k, v in pairs(type(config.hparams) == "table" and config.hparams or {}) do
    out[out[k] == nil and k or ("hparams." .. k)] = v
  end
  return out
end

-- a value as it appears in the table (tables as JSON)
local function text(v)
  if v == nil then return "" end
  if type(v) == "table" then return json.encode(v) end
  -- JSON has one number type: 16 comes back as 16.0
  if math.type(v) == "float" and math.tointeger(v) then return tostring(math.tointeger(v)) end
  return tostring(v)
end

function M.value(model, key) return text(flatten(model.config)[key]) end

-- differing(models) -> the sorted names of the settings whose values are
-- not the same in every model (absent in one counts as different)
function M.differing(models)
  local flat, keys = {}, {}
  for i, m in ipairs(models) do
    flat[i] = flatten(m.config)
    for k in pairs(flat[i]) do keys[k] = true end
  end
  local out = {}
  for k in pairs(keys) do
    local first = text(flat[1][k])
    for i = 2, #models do
      if text(flat[i][k]) ~= first then out[#out + 1] = k; break end
    end
  end
  table.sort(out)
  return out
end

return M
