-- clara.battery.search.summary: what a search found, from its state:
-- the best trial (the best value among the trials that trained the most
-- epochs: the highest rung reached; ties: the older trial), a table per rung (every trial that reported
-- there, best first, and which were promoted), the jobs in the order they
-- were given.  rows(battery) for the HTML report; write(battery) makes
-- <battery>/search.md and search.json (atomically).
local fs = require "clara.fs"
local json = require "clara.run.json"
local A = require "clara.battery.search.asha"
local state = require "clara.battery.search.state"

local M = {}

local function name(id) return ("trial-%04d"):format(id) end

-- {best =, rungs = {{bracket =, rung =, epochs =, trials = {{trial =, value =, promoted =, params =}}}}}
function M.rows(battery)
  local cfg, st = battery.search, state.read(battery)
  local out = { rungs = {}, trials = 0, epochs = st and st.epochs or 0, monitor = battery.base.monitor or "val_loss",
                scheduler = cfg.scheduler, sampler = cfg.sampler, space = cfg.space }
  if not st then return out end
  out.trials = #st.trials
  local best, best_k, best_epochs
  for b = 0, cfg.brackets - 1 do
    for k, epochs in ipairs(A.rungs(cfg, b)) do
      local list = A.reported(st, cfg, b, k - 1)
      if #list > 0 then
        local rung = { bracket = b, rung = k - 1, epochs = epochs, trials = {} }
        for i, t in ipairs(list) do
          rung.trials[i] = { trial = name(t.id), value = t.values[k], params = t.params,
                             promoted = t.rung > k - 1 or (t.state == "running" and t.job and t.job.rung >= k) }
        end
        out.rungs[#out.rungs + 1] = rung
        local top = list[1]
        -- the most epochs first (hyperband's brackets have rungs of their own)
        local v, bv = top.values[k], best and best.values[best_k + 1]
        if best == nil or epochs > best_epochs
           or (epochs == best_epochs and (bv ~= bv or cfg.sign * v < cfg.sign * bv)) then
          best, best_k, best_epochs = top, k - 1, epochs
        end
      end
    end
  end
  -- the best (up to 3) of that rung, best first
  if best then
    local list, dirs = A.reported(st, cfg, best.bracket, best_k), {}
    for i = 1, math.min(3, #list) do dirs[i] = fs.join(battery:dir(), name(list[i].id)) end
    if #dirs > 1 then out.compare = dirs end
  end
  if best then
    out.best = { trial = name(best.id), params = best.params, value = best.values[best_k + 1], rung = best_k,
                 epochs = best.epochs, dir = fs.join(battery:dir(), name(best.id)) }
  end
  return out
end

local function show(v)
  if math.type(v) == "float" then return ("%.6g"):format(v) end
  return tostring(v)
end

local function params_text(p)
  return require("clara.battery.entries").name(p)
end

function M.markdown(battery, r)
  local cfg = battery.search
  local out = { "# Search " .. battery.name, "",
    ("%s, %s sampler, reduction factor %d, %d bracket%s; %d trials, %d epochs trained in all.")
      :format(cfg.scheduler or "no early stopping", cfg.sampler, cfg.reduction_factor, cfg.brackets,
        cfg.brackets > 1 and "s" or "", r.trials, r.epochs), "" }
  if r.best then
    out[#out + 1] = ("Best: %s (%s), %s = %s at rung %d (%d epochs), in %s.")
      :format(r.best.trial, params_text(r.best.params), r.monitor, show(r.best.value), r.best.rung, r.best.epochs, r.best.dir)
    out[#out + 1] = ""
  end
  if r.compare then
    out[#out + 1] = "Compare the best trials (their runs side by side; cross-validate their settings for paired tests):"
    out[#out + 1] = ""
    out[#out + 1] = "    clara compare " .. table.concat(r.compare, " ")
    out[#out + 1] = ""
  end
  for _, rung in ipairs(r.rungs) do
    out[#out + 1] = ("## Bracket %d, rung %d: %d epochs"):format(rung.bracket, rung.rung, rung.epochs)
    out[#out + 1] = ""
    out[#out + 1] = "| trial | " .. r.monitor .. " | promoted | settings |"
    out[#out + 1] = "|---|---|---|---|"
    for _, t in ipairs(rung.trials) do
      out[#out + 1] = ("| %s | %s | %s | %s |"):format(t.trial, show(t.value), t.promoted and "yes" or "",
        params_text(t.params))
    end
    out[#out + 1] = ""
  end
  return table.concat(out, "\n")
end

function M.write(battery)
  local r = M.rows(battery)
  fs.mkdir_p(battery:dir())
  fs.write_atomic(fs.join(battery:dir(), "search.json"), json.encode(r))
  fs.write_atomic(fs.join(battery:dir(), "search.md"), M.markdown(battery, r))
  return r
end

return M
