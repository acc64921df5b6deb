-- clara.analyze.histogram: histograms of weights, as numpy.histogram
-- makes them.
--
--   local h = clara.analyze.weight_histograms(net, {bins = 30})
--   h[i]            {name = "0.weight", shape, numel, min, max, mean, std,
--                    edges = {bins + 1 numbers}, counts = {bins integers}}
--   h["0.weight"]   the same entry
--   clara.analyze.histogram(t, {bins = 10, range = {-1, 1}})   -- one tensor
--   clara.analyze.plot_histograms(h, "out")   -- out/0.weight.png, .svg, ... (clara.plot)
--
-- Bins are equal-width between the tensor's min and max (or opts.range);
-- each bin holds [left, right) but the last one [left, right], and values
-- outside the range are not counted, as numpy.histogram does.  A constant
-- tensor gets the range [v - 0.5, v + 0.5], as numpy gives it.
local torch = require "torch"
local E = require "clara.error"
local common = require "clara.analyze.common"
local fs = require "clara.fs"

local M = {}

local function check_bins(who, opts, level)
  opts = common.options(who, opts, level + 1, { "bins", "range" })
  local bins = E.limit(who, "bins", common.positive(who, opts, "bins", 30, level + 1), "table_elements")
  local range = opts.range
  if range ~= nil and (type(range) ~= "table" or type(range[1]) ~= "number" or type(range[2]) ~= "number"
      or not (range[1] < range[2])) then
    E.raise(nil, who .. ": range must be {low, high} with low < high")
  end
  return bins, range
end

-- the counts through bins + 1 comparisons over the tensor, in float64 so
-- that the edges are compared exactly
local function histogram(t, bins, range)
  local x = t:detach():double():flatten()
  local n = x:numel()
  local lo, hi
  if range then
    lo, hi = range[1], range[2]
  elseif n == 0 then
    lo, hi = 0, 1
  else
    lo, hi = x:min():item(), x:max():item()
  end
  if lo == hi then lo, hi = lo - 0.5, hi + 0.5 end
  local edges = {}
  local step = (hi - lo) / bins -- numpy's linspace: i * step + lo, the last edge hi itself
  for i = 0, bins do edges[i + 1] = i * step + lo end
  edges[bins + 1] = hi
  local below = {}
  for i = 1, bins do below[i] = n > 0 and x:lt(edges[i]):sum():item() or 0 end
  local upto = n > 0 and x:le(hi):sum():item() or 0
  local counts = {}
  for i = 1, bins do counts[i] = math.tointeger((i < bins and below[i + 1] or upto) - below[i]) end
  return { edges = edges, counts = counts, numel = n, min = n > 0 and x:min():item() or nil,
    max = n > 0 and x:max():item() or nil }
end

function M.of_tensor(t, opts)
  local who = "clara.analyze.histogram"
  if not torch.is_tensor(t) then E.raise(nil, who .. ": expected a tensor, got " .. type(t)) end
  local bins, range = check_bins(who, opts, 2)
  return histogram(t, bins, range)
end

function M.weights(model, opts)
  local who = "clara.analyze.weight_histograms"
  common.check_model(who, model)
  local bins, range = check_bins(who, opts, 2)
  local list = {}
  for name, p in model:named_parameters() do
    local h = histogram(p, bins, range)
    local d = p:detach():double()
    h.name, h.shape = name, p:size()
    h.mean = h.numel > 0 and d:mean():item() or 0 / 0
    h.std = h.numel > 1 and d:std():item() or 0 / 0
    list[#list + 1] = h
    list[name] = h
  end
  return list
end

-- a file name from a parameter name ("encoder.fc1.weight" stays)
local function file_name(s)
  local n = s:gsub("[^%w%._%-]", "_")
  return n ~= "" and n or "tensor"
end

-- plot(h, dir): one chart per histogram through clara.plot.histogram,
-- dir/<parameter>.png and .svg (with its .dat and .gp); returns the images
function M.plot(hists, dir)
  local who = "clara.analyze.plot_histograms"
  if type(hists) ~= "table" or type(hists[1]) ~= "table" or not hists[1].counts then
    E.raise(nil, who .. ": expected the list weight_histograms returns")
  end
  if type(dir) ~= "string" or dir == "" then E.raise(nil, who .. ": output directory (a string) expected") end
  local plot, written = require "clara.plot", {}
  for i, h in ipairs(hists) do
    local name = h.name or ("tensor " .. i)
    local title = ("%s %s: mean %.4g, std %.4g"):format(name, common.shape_text(h.shape), h.mean or 0 / 0,
      h.std or 0 / 0)
    local ok, paths = pcall(plot.histogram, { file = fs.join(dir, file_name(name)), edges = h.edges,
      counts = h.counts, title = title, xlabel = "value", ylabel = "count" })
    if not ok then E.raise(nil, who .. ": " .. common.strip_position(paths)) end
    written[#written + 1], written[#written + 2] = paths.png, paths.svg
  end
  return written
end

return M
