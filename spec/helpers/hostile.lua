-- The runner of the hostile-file corpus (tests/hostile/make_corpus.py):
-- not a spec itself.  Cases run in child processes
-- (tests/hostile/run_cases.lua), many per child; a child that dies (a
-- signal, an abort, memory) or hangs past its time stops at a known case,
-- which counts as failed, and a new child goes on after it.
--
--   local hostile = require "spec.helpers.hostile"
--   local cases = hostile.generate(dir)            -- writes the corpus
--   local results = hostile.run(cases, dir, opts)  -- id -> {status, message}
--   local failures = hostile.failures(cases, results, "pickle")
--
-- opts: clara (the program, default ./clara), timeout (seconds per child,
-- default 300), vmem (KiB of address space per child, default 4 GiB),
-- chunk (cases per child, default all).
--
-- To count the failures of another build (e.g. before a fix):
--   ./clara tests/hostile/measure.lua /path/to/other/clara
local hostile = {}

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function hostile.generate(dir)
  local ok = os.execute("/usr/bin/python3 tests/hostile/make_corpus.py " .. quote(dir) .. " >/dev/null")
  assert(ok, "tests/hostile/make_corpus.py failed")
  local cases = {}
  for line in io.lines(dir .. "/cases.tsv") do
    local f = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
    cases[#cases + 1] = { family = f[1], id = f[2], reader = f[3], path = f[4], expect = f[5],
                          setup = f[6], check = f[7] }
  end
  return cases
end

function hostile.run(cases, dir, opts)
  opts = opts or {}
  local clara = opts.clara or "./clara"
  local results, first = {}, 1
  while first <= #cases do
    local cmd = ("ulimit -v %d; timeout -k 5 %d %s tests/hostile/run_cases.lua %s %d %d 2>/dev/null")
      :format(opts.vmem or 4 * 1024 * 1024, opts.timeout or 300, quote(clara),
              quote(dir .. "/cases.tsv"), first, math.min(#cases, first + (opts.chunk or #cases) - 1))
    local p = assert(io.popen(cmd))
    local next_case = first
    for line in p:lines() do
      local id, status, msg = line:match("^([^\t]*)\t([^\t]*)\t?(.*)$")
      if id == cases[next_case].id then
        results[id] = { status = status, message = msg }
        next_case = next_case + 1
      end
    end
    local _, _, code = p:close()
    local last = math.min(#cases, first + (opts.chunk or #cases) - 1)
    if next_case <= last then
      results[cases[next_case].id] = { status = code == 124 and "hang" or "crash",
                                       message = "child exited with " .. tostring(code) }
      next_case = next_case + 1
    end
    first = next_case
  end
  return results
end

-- Does the result meet the case's expectation?  An error must be clean:
-- it names the API and leaks no C++ internals.
local leaks = { "INTERNAL ASSERT", "please report a bug", "File a bug report", "Exception raised from",
                "c10::", "%.cpp:%d" }

function hostile.verdict(c, r)
  if not r then return "no result" end
  if r.status == "crash" or r.status == "hang" or r.status == "check" then
    return r.status .. ": " .. (r.message or "")
  end
  if r.status == "err" then
    for _, mark in ipairs(leaks) do
      if r.message:find(mark) then return "leaks '" .. mark .. "': " .. r.message end
    end
    if #r.message > 600 then return "a message of " .. #r.message .. " bytes" end
  end
  if c.expect == "any" then return nil end
  if c.expect == "ok" then
    return r.status ~= "ok" and ("expected to load, got: " .. r.message) or nil
  end
  local want = c.expect:match("^err:(.*)$")
  if r.status ~= "err" then return "expected an error naming '" .. want .. "', it loaded" end
  if not r.message:lower():find(want:lower(), 1, true) then
    return "expected an error naming '" .. want .. "', got: " .. r.message
  end
  return nil
end

-- the failing cases of a family: list of "id (file): why"
function hostile.failures(cases, results, family)
  local out, n = {}, 0
  for _, c in ipairs(cases) do
    if c.family == family then
      n = n + 1
      local why = hostile.verdict(c, results[c.id])
      if why then out[#out + 1] = ("%s (%s): %s"):format(c.id, c.path:match("[^/]*$"), why) end
    end
  end
  return out, n
end

return hostile
