-- `clara report DIR... [--out DIR] [--embed png|svg] [--quiet]`
--
-- An HTML report (report.html, self-contained) with PNG and SVG charts of
-- each run, cross-validation or battery directory: inside DIR/report/, or
-- with --out one page for all the directories given.  Prints the page's
-- path.  A directory that is none of these is an error, and nothing is
-- written.
local USAGE = "usage: clara report RUN_CV_OR_BATTERY_DIR... [--out DIR] [--embed png|svg] [--quiet]"

local function die(msg)
  io.stderr:write("clara report: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

-- 1. the command line
local function parse(args)
  local o = { dirs = {} }
  local i = 1
  while i <= #args do
    local a = args[i]
    local function value()
      i = i + 1
      if args[i] == nil then die(a .. " needs a value") end
      return args[i]
    end
    if a == "--out" or a == "-o" then o.out = value()
    elseif a:match("^%-%-out=") then o.out = a:match("^%-%-out=(.*)$")
    elseif a == "--embed" then o.embed = value()
    elseif a:match("^%-%-embed=") then o.embed = a:match("^%-%-embed=(.*)$")
    elseif a == "--quiet" or a == "-q" then o.quiet = true
    elseif a == "--help" or a == "-h" then print(USAGE); os.exit(0)
    elseif a == "--" then
      for j = i + 1, #args do o.dirs[#o.dirs + 1] = args[j] end
      break
    elseif a:sub(1, 1) == "-" then die("unknown option '" .. a .. "'")
    else o.dirs[#o.dirs + 1] = a end
    i = i + 1
  end
  if #o.dirs == 0 then die("no directory given") end
  if o.out == "" then die("--out needs a directory name") end
  if o.embed and o.embed ~= "png" and o.embed ~= "svg" then die("--embed must be png or svg, got '" .. o.embed .. "'") end
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
local ok, err = pcall(main, ...)
if not ok then
  io.stderr:write("clara report: ", (tostring(err):gsub("^[^:]*:%d+: ", ""):gsub("^clara%.report: ", "")), "\n")
  os.exit(1)
end
