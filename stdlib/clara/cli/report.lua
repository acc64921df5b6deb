-- `clara report DIR... [--out DIR] [--embed png|svg] [--quiet]`
--
-- An HTML report (report.html, self-contained) with PNG and SVG charts of
-- each run, cross-validation or battery directory (an experiment's directory,
-- runs/NAME, holding runs: its newest run): inside DIR/report/, or
-- with --out one page for all the directories given.  Prints the page's
-- path.  A directory that is none of these is an error, and nothing is
-- written.
local cmd = require("clara.cli.args").command("report")
cmd.strip = "^clara%.report: "

-- 1. the command line
local function parse(args)
  local o, dirs = cmd:parse(args)
  o.dirs = dirs
  if #o.dirs == 0 then cmd:die("no directory given") end
  if o.out == "" then cmd:die("--out needs a directory name") end
  if o.embed and o.embed ~= "png" and o.embed ~= "svg" then cmd:die("--embed must be png or svg, got '" .. o.embed .. "'") end
  return o
end

local function main(...)
  local o = parse({ ... })
  -- 2. the reports, each page's path on a line
  local written = require("clara.report").build(o.dirs, { out = o.out, embed = o.embed })
  if not o.quiet then
    for _, r in ipairs(written) do print("report: " .. r.html) end
  end
end

-- errors (not a run directory, corrupt JSON, gnuplot) as one line, no traceback
cmd:main(main, ...)
