-- clara.plot.gnuplot: the one place that talks to gnuplot.  A chart is
-- three files next to its images: NAME.dat (the numbers), NAME.gp (the
-- script) and NAME.png / NAME.svg.  The script reads its output names from
-- the variables out_png / out_svg when they are set and falls back to the
-- final names, so `cd DIR && gnuplot NAME.gp` re-draws the chart after a
-- hand edit, while clara runs it with temporary names and renames the
-- images into place only once gnuplot succeeded (no half-written image).
local fs = require "clara.fs"
local E = require "clara.error"
local core = require "clara.signal.core"

local G = {}

-- the command that runs gnuplot; a spec may point it at a stand-in
G.command = "gnuplot"

G.PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
              "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" }

-- a text as a gnuplot single-quoted string: only ' needs doubling there
-- (no backslash escapes); newlines would end the command
function G.quote(s)
  s = tostring(s):gsub("[\r\n]+", " ")
  return "'" .. s:gsub("'", "''") .. "'"
end

-- a text as one shell word
local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

-- a number as gnuplot reads it back exactly; nil, NaN and infinities are
-- "NaN" (gnuplot leaves such a point out)
function G.num(v)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then return "NaN" end
  if math.type(v) == "integer" then return string.format("%d", v) end
  local s = string.format("%.15g", v)
  if tonumber(s) ~= v then s = string.format("%.17g", v) end
  return s
end

function G.color(i) return G.PALETTE[(i - 1) % #G.PALETTE + 1] end

-- the terminals this gnuplot has, asked once: {png = "pngcairo"|"png", svg = "svg"}
local terminals
function G.terminals()
  if terminals then return terminals end
  local p = io.popen(G.command .. " -e 'print GPVAL_TERMINALS' 2>&1")
  local out = p and p:read("a") or ""
  if p then p:close() end
  local have = {}
  for t in out:gmatch("%S+") do have[t] = true end
  if not (have.png or have.pngcairo or have.svg) then
    E.raise(nil, "gnuplot is missing or has no png/svg terminal (install the Debian package gnuplot-nox): "
          .. (out:gsub("%s+$", "")))
  end
  terminals = { png = have.pngcairo and "pngcairo" or have.png and "png" or nil,
                svg = have.svg and "svg" or nil }
  return terminals
end

-- forget the terminals (after a spec swapped G.command)
function G.reset() terminals = nil end

local FONT = "DejaVu Sans,12"

local function terminal_line(format, width, height)
  local t = G.terminals()[format]
  if format == "svg" then
    return ("set terminal svg noenhanced size %d,%d dynamic background '#ffffff' font %s")
      :format(width, height, G.quote(FONT))
  elseif t == "pngcairo" then
    return ("set terminal pngcairo noenhanced size %d,%d background '#ffffff' font %s")
      :format(width, height, G.quote(FONT))
  end
  return ("set terminal png noenhanced size %d,%d background '#ffffff'"):format(width, height)
end

-- the script: settings, then per format a terminal, an output and the plot
local function script(name, chart, formats)
  local out = { ("# %s: written by clara.plot.%s; edit and re-draw with `gnuplot %s.gp`")
                :format(name, chart.kind, name) }
  for _, f in ipairs(formats) do
    out[#out + 1] = ("if (!exists(%s)) out_%s = %s"):format(G.quote("out_" .. f), f, G.quote(name .. "." .. f))
  end
  out[#out + 1] = "data = " .. G.quote(name .. ".dat")
  for _, line in ipairs(chart.settings) do out[#out + 1] = line end
  for _, f in ipairs(formats) do
    out[#out + 1] = terminal_line(f, chart.width or 760, chart.height or 460)
    out[#out + 1] = "set output out_" .. f
    out[#out + 1] = chart.plot
  end
  out[#out + 1] = "set output"
  return table.concat(out, "\n") .. "\n"
end

-- the last lines gnuplot wrote to stderr (its message names the line)
local function message(log)
  local text = (fs.read(log) or ""):gsub("%s+$", "")
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return table.concat(lines, " | ", math.max(1, #lines - 3))
end

local serial = 0

-- render(fname, file, chart, formats) -> {png =, svg =, gp =, data =}
--   chart = {kind =, data = text, settings = {lines}, plot = "plot ...", width =, height =}
function G.render(fname, file, chart, formats)
  local dir, name = fs.dirname(file), file:match("[^/]+$")
  -- 1. the formats this gnuplot can write
  for _, f in ipairs(formats) do
    if not G.terminals()[f] then
      E.raise(nil, ("clara.plot.%s: this gnuplot has no %s terminal"):format(fname, f))
    end
  end
  -- 2. data and script, next to the images
  fs.mkdir_p(dir)
  local paths = { data = fs.join(dir, name .. ".dat"), gp = fs.join(dir, name .. ".gp") }
  fs.write_atomic(paths.data, chart.data)
  fs.write_atomic(paths.gp, script(name, chart, formats))
  -- 3. gnuplot, in the chart's directory, writing temporary images
  local tmp, sets = {}, {}
  serial = serial + 1
  local salt = fs.TEMP_MARK .. string.format("%06x", (core.getpid() * 7919 + serial * 104729) % 0x1000000)
  for _, f in ipairs(formats) do
    tmp[f] = name .. "." .. f .. salt
    sets[#sets + 1] = ("out_%s=%s"):format(f, G.quote(tmp[f]))
  end
  local log = os.tmpname()
  local cmd = ("cd %s && %s -e %s %s 2>%s"):format(sh_quote(dir), G.command,
    sh_quote(table.concat(sets, "; ")), sh_quote(name .. ".gp"), sh_quote(log))
  local ok, _, code = os.execute(cmd)
  local msg = message(log)
  os.remove(log)
  -- 4. success means exit status 0 and every image there and non-empty
  local bad
  if not ok then bad = ("gnuplot exited with status %s"):format(tostring(code)) end
  for _, f in ipairs(formats) do
    local size = not bad and require("lfs").attributes(fs.join(dir, tmp[f]), "size")
    if not bad and (size or 0) == 0 then bad = ("gnuplot wrote no %s image"):format(f) end
  end
  if bad then
    for _, f in ipairs(formats) do os.remove(fs.join(dir, tmp[f])) end
    E.raise(nil, ("clara.plot.%s: %s for '%s'%s"):format(fname, bad, paths.gp,
          msg ~= "" and (": " .. msg) or ""))
  end
  -- 5. the images into place
  for _, f in ipairs(formats) do
    paths[f] = fs.join(dir, name .. "." .. f)
    local renamed, err = os.rename(fs.join(dir, tmp[f]), paths[f])
    if not renamed then E.raise(nil, ("clara.plot.%s: cannot write '%s': %s"):format(fname, paths[f], err)) end
  end
  return paths
end

return G
