-- clara.report and `clara report`: reports of real runs (tiny experiments,
-- 2 epochs), of CV and battery directories written per the contract
-- (spec/fixtures/report/dirs.lua) and of ones made by exp:cross_validate
-- and clara.battery; the charts exist and are real PNG/SVG; the page holds
-- the tables' numbers and embeds every chart; bad input writes nothing.
local fs = require "clara.fs"
local lfs = require "lfs"
package.path = "spec/fixtures/report/?.lua;" .. package.path
local D = require "dirs"
local C = require "clara.report.common"
local html = require "clara.report.html"

local CLARA = fs.join(lfs.currentdir(), "clara")

teardown(D.cleanup)

local sh = require("spec.helpers.shell").sh

local assert_png, svg_text = D.assert_png, D.svg_text

local function has(text, s) return text:find(s, 1, true) ~= nil end

-- every PNG of the report dir is in the page, byte for byte, and nothing
-- is fetched from elsewhere
local function assert_self_contained(dir, page)
  local n = 0
  for _, f in ipairs(D.files(dir)) do
    if f:match("%.png$") then
      n = n + 1
      assert.is_true(has(page, "data:image/png;base64," .. html.base64(fs.read(fs.join(dir, f)))), f .. " not embedded")
    end
  end
  assert.is_true(n > 0)
  for src in page:gmatch('src="([^"]*)"') do assert.matches("^data:image/", src) end
  assert.falsy(page:find("href=", 1, true))
  assert.falsy(page:find("<link", 1, true))
  assert.falsy(page:find("<script", 1, true))
  return n
end

-- a run still going: history.csv only, one chart (cheap to report)
local function running_run(name)
  local d = fs.join(D.tmpdir(), name or "running")
  fs.mkdir_p(d)
  fs.write_atomic(fs.join(d, "history.csv"), "epoch,lr,train_loss,val_loss\n1,0.1,0.9,1.25\n2,0.1,0.6,0.875\n")
  return d
end

local RUN, CONF, CV, CV_SUMMARY, BAT, BAT_INFO
local function fixtures()
  if RUN then return end
  local root = D.tmpdir()
  RUN = D.run(root)
  CONF = D.add_confusion(RUN, { val = { { 20, 3, 1 }, { 4, 17, 5 }, { 1, 2, 11 } },
                                test = { { 18, 3, 1 }, { 4, 22, 5 }, { 1, 3, 7 } } })
  CV, CV_SUMMARY = D.cv(root, "tiny_cv", 3)
  BAT, BAT_INFO = D.battery(root)
end

describe("clara.report of a run", function()
  it("draws curves per quantity and the confusion matrices, and embeds them", function()
    fixtures()
    local r = clara.report.build(RUN)
    assert.are.equal(1, #r)
    assert.are.equal(fs.join(RUN, "report"), r[1].dir)
    local dir = r[1].dir
    -- 1. a chart (data, script, PNG, SVG) per quantity: loss, each term, acc, lr
    for _, name in ipairs { "loss", "ce", "smooth", "acc", "lr", "confusion_val", "confusion_test" } do
      for _, ext in ipairs { ".dat", ".gp", ".svg" } do
        assert.is_true(fs.exists(fs.join(dir, name .. ext)), name .. ext)
      end
      assert_png(fs.join(dir, name .. ".png"))
    end
    -- 2. train and validation on one chart; a weighted term dashed beside its term
    local loss = svg_text(fs.join(dir, "loss.svg"))
    assert.is_true(has(loss, "train_loss") and has(loss, "val_loss"))
    local smooth = svg_text(fs.join(dir, "smooth.svg"))
    for _, s in ipairs { "train_smooth", "val_smooth", "train_smooth_w", "val_smooth_w" } do
      assert.is_true(has(smooth, s), s)
    end
    -- ce has weight 1: its weighted twin would be the same line
    assert.is_false(has(svg_text(fs.join(dir, "ce.svg")), "train_ce_w"))
    -- 3. the confusion matrix's counts in its cells
    local cm = svg_text(fs.join(dir, "confusion_val.svg"))
    for _, row in ipairs(CONF.val) do
      for _, v in ipairs(row) do assert.is_true(has(cm, "\n" .. v .. "\n"), v) end
    end
    -- the class names the experiment gave (config.json) on both axes
    for _, name in ipairs { "alpha", "beta", "gamma" } do assert.is_true(has(cm, name), name) end
    -- 4. the page: final metrics, history and config numbers, every chart
    local page = fs.read(r[1].html)
    local rep = D.read_json(fs.join(RUN, "report.json"))
    for _, split in ipairs { "val", "test" } do
      for _, k in ipairs { "loss", "acc", "ce" } do
        assert.is_true(has(page, ">" .. C.fmt(rep.metrics[split][k]) .. "<"), split .. " " .. k)
      end
    end
    local hist = clara.run.read(RUN).history
    assert.is_true(has(page, ">" .. C.fmt(hist[2].train_loss) .. "<"))
    assert.is_true(has(page, ">" .. C.fmt(hist[1].val_acc) .. "<"))
    assert.is_true(has(page, "batch_size") and has(page, ">16<"))
    assert.is_true(has(page, ("2 (val_loss = %s)"):format(C.fmt(rep.best.value))))
    assert.are.equal(7, assert_self_contained(dir, page))
  end)

  it("gives times their units, the preprocessing by its print, weighted terms their own axis", function()
    local T = clara.transforms
    local dir = D.run(D.tmpdir(), { name = "tiny_units", preprocess = T.chain { T.Scale(0.5), T.Flatten() } })
    local r = clara.report.build(dir)
    local page = fs.read(r[1].html)
    -- 1. units: the summary's run time, the history's time column
    local rep = D.read_json(fs.join(dir, "report.json"))
    assert.is_true(has(page, ">" .. C.duration(rep.time) .. "<"), C.duration(rep.time))
    assert.matches("^%d+ ms$", C.duration(rep.time))
    assert.is_true(has(page, ">time (s)<"))
    assert.are.equal("350 ms", C.duration(0.35))
    assert.are.equal("12.3 s", C.duration(12.34))
    assert.are.equal("12.6 min", C.duration(754))
    assert.are.equal("2.5 h", C.duration(9000))
    -- 2. the preprocessing chain by its description, here and in report.md
    assert.is_true(has(page, ">Scale(0.5) -&gt; Flatten()<"))
    assert.is_false(has(page, "[[]"))
    local md = fs.read(fs.join(dir, "report.md"))
    assert.is_true(has(md, "## Pipeline\n\n- preprocess: `Scale(0.5) -> Flatten()`\n"), md)
    assert.is_true(has(md, "| time (s) |"), md)
    assert.matches("\n%- time: %d+ ms\n", md)
    -- a description no transform rebuilds still reads as one
    assert.are.equal("Mine(k=2) -> Other()", C.flatten { preprocess = { name = "chain",
      steps = { { name = "Mine", k = 2 }, { name = "Other" } } } }[1][2])
    -- 3. a term's weighted value on the right axis, its raw value on the left
    local gp = fs.read(fs.join(r[1].dir, "smooth.gp"))
    assert.is_true(has(gp, "set y2tics"))
    assert.is_true(has(gp, "set y2label 'smooth x weight (dashed)'"))
    assert.is_true(has(gp, "set ylabel 'smooth (raw)'"))
    assert.matches("using 1:2 axes x1y2 with [^\n]*title 'train_smooth_w'", gp)
    assert.matches("using 1:2 with [^\n]*title 'train_smooth'", gp)
    -- a quantity without weighted values keeps one axis
    assert.is_false(has(fs.read(fs.join(r[1].dir, "loss.gp")), "y2"))
  end)

  it("embeds SVG when asked and reports a run still going (history only)", function()
    local d = running_run()
    local r = clara.report.build(d, { embed = "svg" })
    local page = fs.read(r[1].html)
    assert.is_true(has(page, "has not finished"))
    assert.is_true(has(page, ">0.8750<") and has(page, ">1.2500<"))
    assert.are.same({ { 1, 0.9 }, { 2, 0.6 }, { 1, 1.25 }, { 2, 0.875 } }, D.dat_rows(fs.join(d, "report", "loss.dat")))
    assert.is_true(has(page, "data:image/svg+xml;base64," .. html.base64(fs.read(fs.join(d, "report", "loss.svg")))))
    assert.falsy(page:find("data:image/png", 1, true))
  end)

  it("replaces an earlier report whole and leaves no temporaries", function()
    local d = running_run()
    clara.report.build(d)
    local stale = fs.join(d, "report", "stale.png")
    fs.write_atomic(stale, "old")
    clara.report.build(d)
    assert.is_false(fs.exists(stale))
    assert_png(fs.join(d, "report", "loss.png"))
    for name in lfs.dir(fs.dirname(d)) do
      assert.falsy(name:find(".tmp-", 1, true) or name:find(".old-", 1, true), name)
    end
  end)
end)

describe("clara.report of a cross-validation", function()
  it("gives mean ± std, a box plot per metric and the folds' curves", function()
    fixtures()
    local r = clara.report.build(CV)
    local dir, page = r[1].dir, fs.read(r[1].html)
    for _, split in ipairs { "val", "test" } do
      for _, k in ipairs { "loss", "acc" } do
        local m = CV_SUMMARY[split][k]
        assert.is_true(has(page, C.fmt(m.mean) .. " ± " .. C.fmt(m.std)), split .. " " .. k)
        for _, v in ipairs(m.values) do assert.is_true(has(page, ">" .. C.fmt(v) .. "<")) end
      end
    end
    assert_png(fs.join(dir, "folds_acc.png"))
    assert_png(fs.join(dir, "folds_loss.png"))
    assert.is_false(fs.exists(fs.join(dir, "folds_smooth_w.png")))   -- a weighted twin: not charted
    -- the box plot's points are the folds' values
    local points = {}
    for _, row in ipairs(D.dat_rows(fs.join(dir, "folds_acc.dat"), 1)) do   -- block 1: x, value
      if row[1] == 1 then points[#points + 1] = row[2] end
    end
    assert.are.same(CV_SUMMARY.val.acc.values, points)
    local curves = svg_text(fs.join(dir, "folds_curve_loss.svg"))
    for k = 1, 3 do
      assert.is_true(has(curves, ("fold %d val_loss"):format(k)) and has(curves, ("fold %d train_loss"):format(k)))
    end
    assert_self_contained(dir, page)
  end)

  it("computes mean ± std (n - 1) itself for a CV without a summary, and sums confusion over folds", function()
    fixtures()
    local d = fs.join(D.tmpdir(), "cv_running")
    assert.is_true(os.execute(("cp -r '%s' '%s'"):format(CV, d)))
    os.remove(fs.join(d, "report.json"))
    for k = 1, 3 do
      D.add_confusion(fs.join(d, "fold-" .. k), { val = { { k, 1 }, { 2, 10 * k } } })
    end
    local page = fs.read(clara.report.build(d)[1].html)
    local m = CV_SUMMARY.val.loss
    assert.is_true(has(page, C.fmt(m.mean) .. " ± " .. C.fmt(m.std)))
    -- summed: {{1+2+3, 3}, {6, 60}}
    assert.are.same({ { 6, 3 }, { 6, 60 } }, D.dat_rows(fs.join(d, "report", "confusion_val.dat")))
  end)
end)

describe("clara.report of a battery", function()
  it("tabulates the entries, draws a bar chart per metric and lists failures", function()
    fixtures()
    local r = clara.report.build(BAT)
    local dir, page = r[1].dir, fs.read(r[1].html)
    assert.is_true(has(page, "3 entries: 2 done, 1 failed."))
    assert.is_true(has(page, ">" .. C.fmt(BAT_INFO.run.metrics.test.acc) .. "<"))
    local cv_acc = BAT_INFO.cv.test.acc
    assert.is_true(has(page, C.fmt(cv_acc.mean) .. " ± " .. C.fmt(cv_acc.std)))
    assert.is_true(has(page, html.escape(BAT_INFO.error)))
    assert.is_true(has(page, '<tr class="failed">'))
    -- bars: the run's value with no error bar, the CV's mean ± its std
    local rows = D.dat_rows(fs.join(dir, "battery_test_acc.dat"))
    assert.are.same({ { 0, BAT_INFO.run.metrics.test.acc, 0 }, { 1, cv_acc.mean, cv_acc.std } }, rows)
    local svg = svg_text(fs.join(dir, "battery_test_acc.svg"))
    assert.is_true(has(svg, BAT_INFO.entries[1].name) and has(svg, BAT_INFO.entries[2].name))
    assert.is_false(has(svg, BAT_INFO.entries[3].name))
    assert_self_contained(dir, page)
  end)

  it("reads what exp:cross_validate and clara.battery write", function()
    local out = D.tmpdir()
    local base = D.experiment(out, { no_val = true })
    local cv = base:cross_validate { folds = 2 }
    local b = clara.battery { name = "real_battery", base = base, grid = { lr = { 0.1, 0.3 } }, out_dir = out }
    b:run { log = function() end }
    local page = fs.read(clara.report.build(cv.dir)[1].html)
    assert.is_true(has(page, C.fmt(cv.summary.val.acc.mean) .. " ± " .. C.fmt(cv.summary.val.acc.std)))
    local bdir = fs.join(out, "real_battery")
    local r = clara.report.build(bdir)
    page = fs.read(r[1].html)
    assert.is_true(has(page, "2 entries: 2 done."))
    for _, row in ipairs(b:summary()) do
      assert.is_true(has(page, ">" .. C.fmt(row.test_acc) .. "<"), row.name)
    end
    assert_png(fs.join(r[1].dir, "battery_test_loss.png"))
    assert_png(fs.join(r[1].dir, "battery_loss_curves.png"))
  end)
end)

describe("clara.report of several directories", function()
  it("writes one page with a section each (--out), or a report in each", function()
    local a, b = running_run("run_a"), running_run("run_b")
    local out = fs.join(D.tmpdir(), "both")
    local r = clara.report.build({ a, b .. "/" }, { out = out })
    assert.are.equal(1, #r)
    local page = fs.read(r[1].html)
    assert.is_true(has(page, "report: 2 directories"))
    assert.is_true(has(page, "run: run_a (" .. a .. ")") and has(page, "run: run_b (" .. b .. ")"))
    assert_png(fs.join(out, "01-run_a", "loss.png"))
    assert_png(fs.join(out, "02-run_b", "loss.png"))
    assert_self_contained(out, page)
    r = clara.report.build({ a, b })
    assert.are.equal(2, #r)
    assert.are.equal(fs.join(b, "report", "report.html"), r[2].html)
    assert_png(fs.join(a, "report", "loss.png"))
  end)
end)

describe("clara.report refuses", function()
  -- a directory tree's files, to show nothing was written
  local function snapshot(d) return table.concat(D.files(d), "\n") end

  it("what is not a run, CV or battery directory, writing nothing", function()
    fixtures()
    local root = D.tmpdir()
    local empty = fs.join(root, "empty"); fs.mkdir_p(empty)
    local other = fs.join(root, "other"); fs.mkdir_p(other)
    fs.write_atomic(fs.join(other, "notes.txt"), "hello")
    local corrupt = fs.join(root, "corrupt"); fs.mkdir_p(corrupt)
    fs.write_atomic(fs.join(corrupt, "report.json"), '{"metrics": {"val": ')
    local list = fs.join(root, "list"); fs.mkdir_p(list)
    fs.write_atomic(fs.join(list, "report.json"), "[1, 2]")
    local cases = {
      { empty, "'" .. empty .. "' is not a run, CV or battery directory (no config.json" },
      { other, "'" .. other .. "' is not a run, CV or battery directory" },
      { fs.join(root, "missing"), "'" .. fs.join(root, "missing") .. "' is not a directory" },
      { corrupt, "'" .. corrupt .. "/report.json' is not valid JSON" },
      { list, "report.json' holds a list, a JSON object expected" },
      -- a good directory first: still nothing written for it
      { { RUN, empty }, "'" .. empty .. "' is not a run" },
    }
    for _, c in ipairs(cases) do
      os.execute("rm -rf '" .. fs.join(RUN, "report") .. "'")
      local before = snapshot(root)
      local ok, err = pcall(clara.report.build, c[1])
      assert.is_false(ok)
      assert.truthy(err:find("clara.report: ", 1, true), err)
      assert.truthy(err:find(c[2], 1, true), err)
      assert.are.equal(before, snapshot(root))
      assert.is_false(fs.exists(fs.join(RUN, "report")))
    end
  end)

  it("to overwrite a directory that is not a clara report", function()
    fixtures()
    local out = D.tmpdir()
    fs.write_atomic(fs.join(out, "precious.txt"), "keep")
    local ok, err = pcall(clara.report.build, RUN, { out = out })
    assert.is_false(ok)
    assert.matches("exists and is not a clara report; not overwriting it", err)
    assert.are.equal("keep", fs.read(fs.join(out, "precious.txt")))
    assert.are.equal("precious.txt", snapshot(out))
  end)
end)

describe("clara report (CLI)", function()
  it("writes the report and prints where", function()
    fixtures()
    local text, rc = sh(("%s report %s"):format(CLARA, RUN))
    assert.are.equal(0, rc, text)
    assert.are.equal("report: " .. fs.join(RUN, "report", "report.html") .. "\n", text)
    local out = fs.join(D.tmpdir(), "cli")
    text, rc = sh(("%s report %s %s --out=%s --quiet"):format(CLARA, running_run("a"), running_run("b"), out))
    assert.are.equal(0, rc, text)
    assert.are.equal("", text)
    assert.is_true(fs.exists(fs.join(out, "report.html")))
  end)

  it("explains bad command lines in one line, exit code 1 or 2", function()
    local empty = D.tmpdir()
    local text, rc = sh(("%s report %s"):format(CLARA, empty))
    assert.are.equal(1, rc)
    assert.are.equal(("clara report: '%s' is not a run, CV or battery directory"):format(empty),
                     text:match("^[^(]*"):gsub("%s+$", ""))
    assert.are.equal(1, select(2, text:gsub("\n", "")))
    text, rc = sh(CLARA .. " report")
    assert.are.equal(2, rc)
    assert.matches("clara report: no directory given\nusage: clara report", text)
    text, rc = sh(CLARA .. " report --bogus x")
    assert.are.equal(2, rc)
    assert.matches("unknown option '%-%-bogus'", text)
    text, rc = sh(CLARA .. " report x --embed jpeg")
    assert.are.equal(2, rc)
    assert.matches("%-%-embed must be png or svg", text)
  end)
end)
