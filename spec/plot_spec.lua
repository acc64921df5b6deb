-- clara.plot over gnuplot: each chart's files (data, script, PNG, SVG),
-- what the images say (SVG text parsed as XML), the numbers in the data
-- files (quartiles against hand-computed values), escaping of titles, and
-- gnuplot's failures as clear errors that leave no image behind.
local fs = require "clara.fs"
local lfs = require "lfs"
local P = clara.plot
local G = clara.plot.gnuplot

local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

package.path = "spec/fixtures/report/?.lua;" .. package.path
local D = require "dirs"
local assert_png, svg_text, data_rows = D.assert_png, D.svg_text, D.dat_rows

local function temps_in(dir)
  local found = {}
  for name in lfs.dir(dir) do if name:find(".tmp-", 1, true) then found[#found + 1] = name end end
  return found
end

describe("clara.plot.lines", function()
  it("writes data, script, PNG and SVG; the SVG names the series", function()
    local d = tmpdir()
    local r = P.lines { file = d .. "/curves/loss", title = "loss per epoch", xlabel = "epoch", ylabel = "loss",
      series = { { name = "train_loss", x = { 1, 2, 3 }, y = { 0.9, 0.5, 0.4 }, dash = true },
                 { name = "val_loss", x = { 1, 2, 3 }, y = { 1.0, 0.7, 0 / 0 }, style = "lines" } } }
    assert.are.equal(d .. "/curves/loss.png", r.png)
    assert.are.equal(d .. "/curves/loss.svg", r.svg)
    assert_png(r.png)
    local text = svg_text(r.svg)
    for _, s in ipairs { "train_loss", "val_loss", "loss per epoch", "epoch" } do
      assert.truthy(text:find(s, 1, true), s .. " not drawn")
    end
    -- the data file: a block per series; the NaN point left out
    local rows = data_rows(r.data)
    assert.are.same({ { 1, 0.9 }, { 2, 0.5 }, { 3, 0.4 }, { 1, 1.0 }, { 2, 0.7 } }, rows)
    assert.truthy(fs.read(r.gp):find("dt 2", 1, true))
    assert.are.same({}, temps_in(d .. "/curves"))
  end)

  it("leaves a script that re-draws the chart by hand", function()
    local d = tmpdir()
    local r = P.lines { file = d .. "/acc", series = { { name = "acc", y = { 0.5, 0.7 } } }, formats = { "png" } }
    assert.is_nil(r.svg)
    assert.is_false(fs.exists(d .. "/acc.svg"))
    os.remove(r.png)
    local ok = os.execute(("cd '%s' && gnuplot acc.gp 2>/dev/null"):format(d))
    assert.is_true(ok)
    assert_png(d .. "/acc.png")
  end)

  it("draws quotes, apostrophes and underscores as written", function()
    local d = tmpdir()
    local title = [[it's "val_loss" 100% \n_x^2]]
    local r = P.lines { file = d .. "/t", title = title, xlabel = "x_label",
      series = { { name = "a_b'c", y = { 1, 2 } }, { name = "d\"e", y = { 2, 1 } } } }
    local text = svg_text(r.svg)
    assert.truthy(text:find(title, 1, true), "title mangled: " .. text)
    assert.truthy(text:find("x_label", 1, true))
    assert.truthy(text:find("a_b'c", 1, true))
    assert.truthy(text:find('d"e', 1, true))
  end)

  it("overwrites an earlier chart whole", function()
    local d = tmpdir()
    P.lines { file = d .. "/c", title = "first_chart", series = { { name = "s", y = { 1, 2 } } } }
    local r = P.lines { file = d .. "/c", title = "second_chart", series = { { name = "s", y = { 2, 1 } } } }
    local text = svg_text(r.svg)
    assert.truthy(text:find("second_chart", 1, true))
    assert.falsy(text:find("first_chart", 1, true))
    assert.are.same({}, temps_in(d))
  end)

  it("explains bad arguments", function()
    local d = tmpdir()
    local cases = {
      { {}, "file %(a path without extension" },
      { { file = d .. "/x" }, "series %(a non%-empty list%) expected" },
      { { file = d .. "/x", series = { { name = "a", x = { 1 }, y = { 1, 2 } } } }, "x and y lengths differ %(1 vs 2%)" },
      { { file = d .. "/x", series = { { name = "a", y = { 1, "2" } } } }, "y%[2%] must be a number, got string" },
      { { file = d .. "/x", series = { { name = "a", y = { 0 / 0 } } } }, "no finite points" },
      { { file = d .. "/x", series = { { y = { 1 } } }, formats = { "pdf" } }, "unknown format 'pdf'" },
      { { file = d .. "/x", series = { { y = { 1 }, style = "bars" } } }, "style must be lines, points or linespoints" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(P.lines, c[1])
      assert.is_false(ok)
      assert.matches("^spec/plot_spec%.lua:%d+: clara%.plot%.lines: .*" .. c[2], err)
    end
    assert.is_false(fs.exists(d .. "/x.png"))
  end)
end)

describe("clara.plot charts", function()
  it("heatmap writes each cell's count, row 1 at the top", function()
    local d = tmpdir()
    local m = { { 50, 3, 1 }, { 4, 40, 9 }, { 0, 12, 33 } }
    local r = P.heatmap { file = d .. "/cm", title = "confusion (val)", matrix = m,
      row_labels = { "cat", "dog", "t_shirt" }, col_labels = { "cat", "dog", "t_shirt" },
      xlabel = "predicted", ylabel = "true" }
    assert_png(r.png)
    local text = svg_text(r.svg)
    for _, row in ipairs(m) do
      for _, v in ipairs(row) do
        assert.truthy(text:find("\n" .. v .. "\n", 1, true), "count " .. v .. " not drawn")
      end
    end
    assert.truthy(text:find("t_shirt", 1, true))
    assert.are.same(m, data_rows(r.data))
    assert.truthy(fs.read(r.gp):find("set yrange [2.5:-0.5]", 1, true))
    local ok, err = pcall(P.heatmap, { file = d .. "/bad", matrix = { { 1, 2 }, { 3 } } })
    assert.is_false(ok)
    assert.matches("matrix row 2 has 1 values, row 1 has 2", err)
  end)

  it("boxplot computes quartiles (linear interpolation) and draws the points", function()
    local d = tmpdir()
    local r = P.boxplot { file = d .. "/box", title = "acc over folds",
      groups = { { name = "val", values = { 5, 1, 4, 2, 3 } }, { name = "test", values = { 1, 2 } } } }
    assert_png(r.png)
    local rows = data_rows(r.data)
    -- x min q1 median q3 max: numpy.percentile([1..5], [25, 50, 75]) = 2, 3, 4;
    -- of [1, 2]: 1.25, 1.5, 1.75
    assert.are.same({ 1, 1, 2, 3, 4, 5 }, rows[1])
    assert.are.same({ 2, 1, 1.25, 1.5, 1.75, 2 }, rows[2])
    assert.are.equal(2 + 7, #rows)           -- then one row per point
    local text = svg_text(r.svg)
    assert.truthy(text:find("val", 1, true) and text:find("test", 1, true))
    local one = P.boxplot { file = d .. "/one", groups = { { name = "only", values = { 0.5 } } } }
    assert_png(one.png)
  end)

  it("bars draw values, error bars and the labels", function()
    local d = tmpdir()
    local labels = { "batch_size=64,lr=0.01", "batch_size=64,lr=0.1", "lr=1" }
    local r = P.bars { file = d .. "/bars", title = "test_acc per entry", labels = labels,
      values = { 0.81, 0.86, 0.5 }, errors = { 0.01, 0.02 } }
    assert_png(r.png)
    assert.are.same({ { 0, 0.81, 0.01 }, { 1, 0.86, 0.02 }, { 2, 0.5, 0 } }, data_rows(r.data))
    local text = svg_text(r.svg)
    for _, l in ipairs(labels) do assert.truthy(text:find(l, 1, true), l) end
    assert.truthy(text:find("0.86", 1, true))
    local ok, err = pcall(P.bars, { file = d .. "/x", labels = { "a" }, values = { 1, 2 } })
    assert.is_false(ok)
    assert.matches("labels must be a list of 2 labels, got 1 labels", err)
  end)

  it("histogram draws bins from edges and counts", function()
    local d = tmpdir()
    local r = P.histogram { file = d .. "/h", title = "weights", edges = { -1, 0, 0.5, 2 }, counts = { 3, 10, 4 } }
    assert_png(r.png)
    assert.are.same({ { -1, 0, 3 }, { 0, 0.5, 10 }, { 0.5, 2, 4 } }, data_rows(r.data))
    local ok, err = pcall(P.histogram, { file = d .. "/x", edges = { 0, 1 }, counts = { 1, 2 } })
    assert.is_false(ok)
    assert.matches("edges must have one more value than counts %(2 edges, 2 counts%)", err)
    ok, err = pcall(P.histogram, { file = d .. "/x", edges = { 0, 1, 1 }, counts = { 1, 2 } })
    assert.matches("edges must increase", err)
  end)
end)

describe("clara.plot and a failing gnuplot", function()
  local saved = G.command
  after_each(function() G.command = saved; G.reset() end)

  -- a stand-in that answers the terminal question, then behaves as told
  local function fake(d, body)
    local path = d .. "/fake-gnuplot"
    fs.write_atomic(path, table.concat({
      "#!/bin/sh",
      'case "$*" in *GPVAL_TERMINALS*) echo "png pngcairo svg"; exit 0;; esac',
      body, "" }, "\n"))
    os.execute("chmod +x '" .. path .. "'")
    G.command = path
    G.reset()
  end

  it("names gnuplot's message and leaves no image or temporary", function()
    local d = tmpdir()
    fake(d, [[echo '"loss.gp" line 12: undefined variable: foo' >&2; exit 1]])
    local ok, err = pcall(P.lines, { file = d .. "/loss", series = { { name = "a", y = { 1, 2 } } } })
    assert.is_false(ok)
    assert.matches("clara.plot.lines: gnuplot exited with status 1 for '.*/loss.gp': \"loss.gp\" line 12: undefined variable: foo", err)
    assert.is_false(fs.exists(d .. "/loss.png"))
    assert.is_false(fs.exists(d .. "/loss.svg"))
    assert.are.same({}, temps_in(d))
  end)

  it("treats a zero exit with no image as a failure", function()
    local d = tmpdir()
    fake(d, "exit 0")
    local ok, err = pcall(P.bars, { file = d .. "/b", labels = { "a" }, values = { 1 } })
    assert.is_false(ok)
    assert.matches("clara.plot.bars: gnuplot wrote no png image for '.*/b.gp'", err)
    assert.is_false(fs.exists(d .. "/b.png"))
  end)

  it("says when gnuplot is missing", function()
    G.command = "/nonexistent/gnuplot"
    G.reset()
    local ok, err = pcall(P.lines, { file = tmpdir() .. "/x", series = { { y = { 1 } } } })
    assert.is_false(ok)
    assert.matches("gnuplot is missing or has no png/svg terminal %(install the Debian package gnuplot%-nox%)", err)
  end)
end)
