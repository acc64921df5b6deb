-- clara.plot: charts drawn by gnuplot (the Debian package gnuplot-nox).
-- Each call writes, in the directory of `file` (a path without extension):
-- NAME.dat (the numbers), NAME.gp (the script: edit it and re-run
-- `gnuplot NAME.gp` there) and one image per format, and returns their
-- paths {png =, svg =, gp =, data =}.  Text is drawn as given (gnuplot's
-- enhanced mode, where _ means subscript, is off).
--
--   clara.plot.lines{file = "out/loss", title = "loss", xlabel = "epoch", ylabel = "loss",
--     series = {{name = "train", x = {1, 2, 3}, y = {0.9, 0.5, 0.4}, dash = true},
--               {name = "val", x = {1, 2, 3}, y = {1.0, 0.7, 0.6}, style = "lines"}}}
--   clara.plot.heatmap{file =, matrix = {{5, 1}, {0, 7}}, row_labels =, col_labels =}
--   clara.plot.boxplot{file =, groups = {{name = "val", values = {0.81, 0.84, 0.8}}}}
--   clara.plot.bars{file =, labels = {"a", "b"}, values = {0.8, 0.9}, errors = {0.01, 0.02}}
--   clara.plot.histogram{file =, edges = {0, 1, 2}, counts = {3, 5}}
-- Common options: title, xlabel, ylabel, formats = {"png", "svg"} (the
-- default), width, height (pixels).
local G = require "clara.plot.gnuplot"
local E = require "clara.error"

local plot = {}

-- {==================== arguments ====================

-- raised with no position: public() re-raises it at the caller's level
local function fail(fname, msg) E.raise("clara.plot." .. fname, msg) end

local function is_num(v) return type(v) == "number" end

-- a list of numbers (NaN allowed: such a point is left out)
local function numbers(fname, what, t, allow_empty)
  if type(t) ~= "table" then fail(fname, ("%s (a list of numbers) expected, got %s"):format(what, type(t))) end
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then fail(fname, what .. " must be a list (keys 1..n)") end
    n = math.max(n, k)
  end
  for i = 1, n do
    if not is_num(t[i]) then
      fail(fname, ("%s[%d] must be a number, got %s"):format(what, i, type(t[i])))
    end
  end
  if n == 0 and not allow_empty then fail(fname, what .. " is empty") end
  return n
end

local function labels(fname, what, t, n)
  if t == nil then return nil end
  if type(t) ~= "table" or #t ~= n then
    fail(fname, ("%s must be a list of %d labels, got %s"):format(what, n,
         type(t) == "table" and (#t .. " labels") or type(t)))
  end
  return t
end

local FORMATS = { png = true, svg = true }

-- the keys each chart reads: those of every chart, and its own
local KEYS = {
  all = { "file", "formats", "title", "xlabel", "ylabel", "width", "height" },
  lines = { "series", "logy", "logx", "y2label" }, heatmap = { "matrix", "row_labels", "col_labels", "format" },
  boxplot = { "groups" }, bars = { "labels", "values", "errors", "color", "format" },
  histogram = { "edges", "counts", "color" },
}

-- a key no chart of this kind reads is a typo, said so with the closest
local function check_keys(fname, o)
  local known = {}
  for _, k in ipairs(KEYS.all) do known[#known + 1] = k end
  for _, k in ipairs(KEYS[fname]) do known[#known + 1] = k end
  for k in pairs(o) do
    local found = false
    for _, name in ipairs(known) do if k == name then found = true break end end
    if not found then
      local near = type(k) == "string" and E.closest(k, known)
      fail(fname, ("unknown option %s%s"):format(E.show(k), near and (" (did you mean '" .. near .. "'?)") or
        (" (known: " .. table.concat(E.sorted(known), ", ") .. ")")))
    end
  end
  for _, k in ipairs { "width", "height" } do
    local v = o[k]
    if v ~= nil and (math.type(v) ~= "integer" or v < 16 or v > 20000) then
      fail(fname, ("%s must be an integer number of pixels in [16, 20000], got %s"):format(k, E.show(v)))
    end
  end
end

-- the options every chart takes
local function common(fname, o, title_in_key)
  if type(o) ~= "table" then fail(fname, "options table expected, got " .. type(o)) end
  check_keys(fname, o)
  if type(o.file) ~= "string" or o.file == "" or o.file:sub(-1) == "/" then
    fail(fname, "file (a path without extension, e.g. 'report/loss') expected, got " .. tostring(o.file))
  end
  local formats = o.formats or { "png", "svg" }
  if type(formats) ~= "table" or #formats == 0 then fail(fname, "formats must be a non-empty list") end
  for _, f in ipairs(formats) do
    if not FORMATS[f] then fail(fname, ("unknown format '%s' (png or svg)"):format(tostring(f))) end
  end
  for _, k in ipairs { "title", "xlabel", "ylabel" } do
    if o[k] ~= nil and type(o[k]) ~= "string" and type(o[k]) ~= "number" then
      fail(fname, ("%s must be a string, got %s"):format(k, type(o[k])))
    end
  end
  local s = { "set encoding utf8", "set grid lc rgb '#dddddd'", "set border lc rgb '#555555'" }
  if o.title and not title_in_key then s[#s + 1] = "set title " .. G.quote(o.title) end
  if o.xlabel then s[#s + 1] = "set xlabel " .. G.quote(o.xlabel) end
  if o.ylabel then s[#s + 1] = "set ylabel " .. G.quote(o.ylabel) end
  return s, formats
end

local function render(fname, o, chart, formats) return G.render(fname, o.file, chart, formats) end

-- `set xtics ('a' 0, 'b' 1)`: category names on the axis
local function tics(axis, names, first)
  local t = {}
  for i, n in ipairs(names) do t[i] = ("%s %d"):format(G.quote(n), i - 1 + first) end
  return ("set %stics (%s)"):format(axis, table.concat(t, ", "))
end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- x tic labels rotated (30 degrees, 45 when many) and margins, in
-- characters, that fit them: a label of n characters reaches about
-- n * sin(angle) * 0.45 lines down (a character is ~0.45 times as wide as
-- a line is high) and the first one n * cos(angle) * 0.85 characters to the
-- left; the right margin is fixed (gnuplot reserves room for the rotated
-- last label it does not need).  Returns the bottom margin, in lines.
local function rotated_tics(s, names)
  local longest = 0
  for _, n in ipairs(names) do longest = math.max(longest, #tostring(n)) end
  local angle = #names > 6 and 45 or 30
  local down, left = math.sin(math.rad(angle)) * 0.45, math.cos(math.rad(angle)) * 0.85
  local bottom = math.min(30, math.floor(3 + longest * down))
  s[#s + 1] = ("set xtics rotate by %d right"):format(angle)
  s[#s + 1] = "set bmargin " .. bottom
  s[#s + 1] = "set lmargin " .. math.min(40, math.max(10, math.floor(#tostring(names[1]) * left)))
  s[#s + 1] = "set rmargin 3"
  return bottom
end

-- a chart's height: the plot's 360 pixels, plus the labels under it
local function height_for(bottom) return 360 + 18 * bottom end
-- }====================

-- lines{file, series = {{name, x, y, style, dash, color, y2}}, title, xlabel, ylabel, logy, logx,
-- y2label}: a series with y2 = true is drawn against a second y axis, on
-- the right (labelled y2label): values of another scale, e.g. a loss
-- term's weighted value next to its raw one
local function lines(o)
  local keyed = type(o) == "table" and type(o.series) == "table" and #o.series > 1
  local s, formats = common("lines", o, keyed)
  if type(o.series) ~= "table" or #o.series == 0 then fail("lines", "series (a non-empty list) expected") end
  local data, cmds, all_int, xs, points, longest = {}, {}, true, {}, 0, 0
  -- 1. each series is one block of the data file (gnuplot's `index`)
  for i, se in ipairs(o.series) do
    if type(se) ~= "table" then fail("lines", ("series[%d] must be a table"):format(i)) end
    local what = ("series %d (%s)"):format(i, tostring(se.name))
    local ny = numbers("lines", what .. " y", se.y, true)
    local x = se.x
    if x == nil then x = {}; for j = 1, ny do x[j] = j end end
    local nx = numbers("lines", what .. " x", x, true)
    if nx ~= ny then fail("lines", ("%s: x and y lengths differ (%d vs %d)"):format(what, nx, ny)) end
    local style = se.style or "auto"
    if style ~= "auto" and style ~= "lines" and style ~= "points" and style ~= "linespoints" then
      fail("lines", ("%s: style must be lines, points or linespoints, got '%s'"):format(what, tostring(style)))
    end
    local block = { "# " .. tostring(se.name or ("series " .. i)):gsub("\n", " ") }
    for j = 1, nx do
      if finite(x[j]) and finite(se.y[j]) then
        block[#block + 1] = G.num(x[j]) .. "\t" .. G.num(se.y[j])
        points = points + 1
        xs[x[j]] = true
        if math.type(x[j]) ~= "integer" and x[j] ~= math.floor(x[j]) then all_int = false end
      end
    end
    longest = math.max(longest, nx)
    data[i] = table.concat(block, "\n")
    cmds[i] = { se = se, style = style, i = i }
  end
  if points == 0 then fail("lines", "no finite points to plot") end
  -- 2. the x axis: whole epochs get whole tics; a single x gets some room
  local distinct, lo, hi = 0, math.huge, -math.huge
  for v in pairs(xs) do distinct = distinct + 1; lo = math.min(lo, v); hi = math.max(hi, v) end
  if distinct == 1 then s[#s + 1] = ("set xrange [%s:%s]"):format(G.num(lo - 1), G.num(lo + 1)) end
  if all_int then
    s[#s + 1] = hi - lo <= 15 and "set xtics 1" or "set format x '%.0f'"
  end
  if o.logy then s[#s + 1] = "set logscale y" end
  local y2 = false
  for _, c in ipairs(cmds) do y2 = y2 or c.se.y2 == true end
  if y2 then
    s[#s + 1] = "set ytics nomirror"
    s[#s + 1] = "set y2tics"
    if o.y2label then s[#s + 1] = "set y2label " .. G.quote(o.y2label) end
    if o.logy then s[#s + 1] = "set logscale y2" end
  end
  if o.logx then s[#s + 1] = "set logscale x"; s[#s + 1] = "set format x '%.0e'" end
  -- the key above the plot, under the title (the key's own), leaves the
  -- plot its whole width; one series needs none (the title names it)
  s[#s + 1] = not keyed and "unset key"
              or "set key tmargin center horizontal" .. (o.title and " title " .. G.quote(o.title) or "")
  -- 3. one plot clause per series
  local clauses = {}
  for _, c in ipairs(cmds) do
    local style = c.style == "auto" and (longest <= 40 and "linespoints" or "lines") or c.style
    local color = c.se.color or G.color(c.i)
    clauses[#clauses + 1] = ("data index %d using 1:2%s with %s lw 2 pt 7 ps 0.6 lc rgb %s dt %d title %s")
      :format(c.i - 1, c.se.y2 == true and " axes x1y2" or "", style, G.quote(color), c.se.dash and 2 or 1,
        G.quote(c.se.name or ("series " .. c.i)))
  end
  return render("lines", o, { kind = "lines", data = table.concat(data, "\n\n\n") .. "\n", settings = s,
    plot = "plot " .. table.concat(clauses, ", \\\n     "), width = o.width, height = o.height }, formats)
end

-- heatmap{file, matrix = {{...}}, row_labels, col_labels, title, xlabel, ylabel, format}
-- (a confusion matrix: row = true class, drawn top to bottom; each cell
-- shows its value)
local function heatmap(o)
  local s, formats = common("heatmap", o)
  local m = o.matrix
  if type(m) ~= "table" or #m == 0 then fail("heatmap", "matrix (a non-empty list of rows) expected") end
  local ncol = numbers("heatmap", "matrix[1]", m[1])
  local rows, max, ints = {}, 0, true
  for i, row in ipairs(m) do
    if numbers("heatmap", ("matrix[%d]"):format(i), row) ~= ncol then
      fail("heatmap", ("matrix row %d has %d values, row 1 has %d"):format(i, #row, ncol))
    end
    local cells = {}
    for j, v in ipairs(row) do
      cells[j] = G.num(v)
      if finite(v) then max = math.max(max, v) end
      if v ~= math.floor(v) then ints = false end
    end
    rows[i] = table.concat(cells, "\t")
  end
  local nrow = #m
  local rl = labels("heatmap", "row_labels", o.row_labels, nrow) or {}
  local cl = labels("heatmap", "col_labels", o.col_labels, ncol) or {}
  if #rl == 0 then for i = 1, nrow do rl[i] = i - 1 end end
  if #cl == 0 then for j = 1, ncol do cl[j] = j - 1 end end
  -- 1. axes: row 1 at the top, a tic per class
  s[#s + 1] = "unset key"
  s[#s + 1] = ("set xrange [-0.5:%s]"):format(G.num(ncol - 0.5))
  s[#s + 1] = ("set yrange [%s:-0.5]"):format(G.num(nrow - 0.5))
  s[#s + 1] = tics("x", cl, 0)
  s[#s + 1] = tics("y", rl, 0)
  local longest = 0
  for _, n in ipairs(cl) do longest = math.max(longest, #tostring(n)) end
  s[#s + 1] = longest <= 3 and "set xtics scale 0"
              or ("set xtics rotate by %d right scale 0"):format(ncol > 6 and 45 or 30)
  s[#s + 1] = "set ytics scale 0"
  s[#s + 1] = "unset grid"
  s[#s + 1] = "set size ratio " .. G.num(nrow / ncol)
  -- 2. white to dark blue; the numbers white on dark cells
  s[#s + 1] = "set palette defined (0 '#f7fbff', 1 '#6baed6', 2 '#08306b')"
  s[#s + 1] = ("set cbrange [0:%s]"):format(G.num(max > 0 and max or 1))
  local fmt = G.quote(o.format or (ints and "%.0f" or "%.3g"))
  local half = G.num(max / 2)
  local clauses = { "data matrix with image" }
  if nrow * ncol <= 900 then
    clauses[2] = ("data matrix using 1:2:($3 > %s ? sprintf(%s, $3) : '') with labels tc rgb '#ffffff'"):format(half, fmt)
    clauses[3] = ("data matrix using 1:2:($3 <= %s ? sprintf(%s, $3) : '') with labels tc rgb '#000000'"):format(half, fmt)
  end
  local side = math.max(560, math.min(1400, 140 + 55 * math.max(nrow, ncol)))
  return render("heatmap", o, { kind = "heatmap", data = table.concat(rows, "\n") .. "\n", settings = s,
    plot = "plot " .. table.concat(clauses, ", \\\n     "), width = o.width or side + 120,
    height = o.height or side }, formats)
end

-- the q-quantile of sorted values, interpolated linearly (numpy's default)
local function quantile(sorted, q)
  local h = (#sorted - 1) * q + 1
  local lo = math.floor(h)
  local hi = math.min(lo + 1, #sorted)
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo])
end

-- boxplot{file, groups = {{name, values}}, title, xlabel, ylabel}: one box
-- per group (quartiles, median, whiskers to min and max), its points drawn
-- over it.  The quartiles are computed here (gnuplot's own boxplot draws
-- nothing for two values, and folds are few) and written to the data
-- file: block 0 the boxes, block 1 the points.
local function boxplot(o)
  local s, formats = common("boxplot", o)
  if type(o.groups) ~= "table" or #o.groups == 0 then fail("boxplot", "groups (a non-empty list) expected") end
  local boxes, points, names = { "# x min q1 median q3 max (group)" }, { "# x value" }, {}
  for i, g in ipairs(o.groups) do
    if type(g) ~= "table" then fail("boxplot", ("groups[%d] must be a table"):format(i)) end
    numbers("boxplot", ("group %d (%s) values"):format(i, tostring(g.name)), g.values)
    local sorted = {}
    for j, v in ipairs(g.values) do
      if not finite(v) then fail("boxplot", ("group %d (%s): value %d is not finite"):format(i, tostring(g.name), j)) end
      sorted[j] = v
      points[#points + 1] = ("%d\t%s"):format(i, G.num(v))
    end
    table.sort(sorted)
    boxes[#boxes + 1] = ("%d\t%s\t%s\t%s\t%s\t%s\t# %s"):format(i, G.num(sorted[1]), G.num(quantile(sorted, 0.25)),
      G.num(quantile(sorted, 0.5)), G.num(quantile(sorted, 0.75)), G.num(sorted[#sorted]),
      tostring(g.name or i):gsub("\n", " "))
    names[i] = g.name or tostring(i)
  end
  s[#s + 1] = "unset key"
  s[#s + 1] = "set boxwidth 0.45"
  s[#s + 1] = "set style fill solid 0.25 border"
  s[#s + 1] = "set grid noxtics ytics"
  s[#s + 1] = ("set xrange [0.4:%s]"):format(G.num(#names + 0.6))
  s[#s + 1] = tics("x", names, 1)
  local bottom = #names > 6 and rotated_tics(s, names)
  s[#s + 1] = "set offsets 0, 0, graph 0.05, graph 0.05"
  local colors = {}
  for i, g in ipairs(o.groups) do colors[i] = ("%d %s"):format(i, G.quote(g.color or G.color(i))) end
  if #colors == 1 then colors[2] = colors[1]:gsub("^1", "2") end   -- a palette needs two points
  -- a colour per group: the palette indexed by x
  s[#s + 1] = "set palette defined (" .. table.concat(colors, ", ") .. ")"
  s[#s + 1] = ("set cbrange [1:%d]"):format(math.max(2, #names))
  s[#s + 1] = "unset colorbox"
  local plot_cmd = table.concat({
    "plot data index 0 using 1:3:2:6:5:1 with candlesticks whiskerbars 0.5 lw 1.5 lc palette",
    "data index 0 using 1:4:4:4:4:1 with candlesticks lw 2.5 lc palette",
    "data index 1 using 1:2:1 with points pt 7 ps 1 lc palette" }, ", \\\n     ")
  return render("boxplot", o, { kind = "boxplot",
    data = table.concat(boxes, "\n") .. "\n\n\n" .. table.concat(points, "\n") .. "\n", settings = s,
    plot = plot_cmd, width = o.width or math.max(600, 120 + 90 * #names),
    height = o.height or (bottom and height_for(bottom)) }, formats)
end

-- bars{file, labels, values, errors, title, xlabel, ylabel}: one bar per
-- label, an error bar (e.g. a std over folds) where errors has one
local function bars(o)
  local s, formats = common("bars", o)
  local n = numbers("bars", "values", o.values)
  labels("bars", "labels", o.labels, n)
  if o.errors ~= nil and numbers("bars", "errors", o.errors, true) > n then
    fail("bars", ("errors has more entries than values (%d)"):format(n))
  end
  local rows, any_neg = {}, false
  for i = 1, n do
    local e = o.errors and o.errors[i]
    rows[i] = ("%d\t%s\t%s"):format(i - 1, G.num(o.values[i]), G.num(e and finite(e) and e or 0))
    if o.values[i] < 0 then any_neg = true end
  end
  s[#s + 1] = "unset key"
  s[#s + 1] = "set style fill solid 0.75 border lc rgb '#333333'"
  s[#s + 1] = "set boxwidth 0.6"
  s[#s + 1] = "set grid noxtics ytics"
  s[#s + 1] = ("set xrange [-0.6:%s]"):format(G.num(n - 0.4))
  if not any_neg then s[#s + 1] = "set yrange [0:*]" end
  s[#s + 1] = "set offsets 0, 0, graph 0.12, 0"
  s[#s + 1] = tics("x", o.labels, 0)
  local bottom = rotated_tics(s, o.labels)
  local color = G.quote(o.color or G.color(1))
  local fmt = G.quote(o.format or "%.4g")
  local plot_cmd = ("plot data using 1:2:3 with boxerrorbars lc rgb %s, \\\n"
    .. "     data using 1:($2 + $3):(sprintf(%s, $2)) with labels offset 0,0.8 tc rgb '#333333'")
    :format(color, fmt)
  return render("bars", o, { kind = "bars", data = table.concat(rows, "\n") .. "\n", settings = s,
    plot = plot_cmd, width = o.width or math.max(700, 160 + 70 * n), height = o.height or height_for(bottom) },
    formats)
end

-- histogram{file, edges = {e0, ..., en}, counts = {c1, ..., cn}}: bin i
-- spans [edges[i], edges[i + 1])
local function histogram(o)
  local s, formats = common("histogram", o)
  local ne, nc = numbers("histogram", "edges", o.edges), numbers("histogram", "counts", o.counts)
  if ne ~= nc + 1 then
    fail("histogram", ("edges must have one more value than counts (%d edges, %d counts)"):format(ne, nc))
  end
  local rows = {}
  for i = 1, nc do
    if not (o.edges[i + 1] > o.edges[i]) then fail("histogram", "edges must increase") end
    rows[i] = ("%s\t%s\t%s"):format(G.num(o.edges[i]), G.num(o.edges[i + 1]), G.num(o.counts[i]))
  end
  s[#s + 1] = "unset key"
  s[#s + 1] = "set style fill solid 0.6 border lc rgb '#333333'"
  s[#s + 1] = "set yrange [0:*]"
  s[#s + 1] = "set grid noxtics ytics"
  local plot_cmd = ("plot data using (($1 + $2) / 2):3:($2 - $1) with boxes lc rgb %s")
    :format(G.quote(o.color or G.color(1)))
  return render("histogram", o, { kind = "histogram", data = table.concat(rows, "\n") .. "\n",
    settings = s, plot = plot_cmd, width = o.width, height = o.height }, formats)
end

-- each chart's errors (bad arguments, gnuplot's failures) are raised at
-- the user's line by clara.error
local function public(impl) return impl end

plot.lines, plot.heatmap, plot.boxplot = public(lines), public(heatmap), public(boxplot)
plot.bars, plot.histogram = public(bars), public(histogram)

-- the gnuplot layer, for specs and for code that writes its own charts
plot.gnuplot = G

-- a misspelt name raises, naming the closest
return require("clara.error").namespace(plot, "clara.plot")
