-- Hostile TorchScript source for torch.jit.compile (issue 11, section 1):
-- libtorch's recursive-descent parser and compiler overflow the C stack on
-- deep nesting (10,000 parentheses or minus signs: SIGSEGV) and on long
-- chains of terms; clara counts both (bindings/bridge/source.cpp, which
-- checks torch.jit.load's archives too) before libtorch sees the text and
-- refuses past clara.limits.script_depth / script_terms, while brackets
-- inside strings and comments, and long but flat sources, are accepted.
--
-- The corpus (spec/helpers/jit_sources.lua, ~400 generated sources) runs in
-- child processes (spec/helpers/jit_source_child.lua), a batch each; a
-- child that dies or hangs counts as a failure of the case it was in, and
-- the next child resumes after it.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/hostile_jit_spec.lua

local torch = require "torch"
local limits = require "clara.limits"
local sources = dofile("spec/helpers/jit_sources.lua")

local DEPTH, TERMS = limits.script_depth, limits.script_terms
local cases = sources.cases(DEPTH, TERMS)
local BATCH, TIMEOUT = 60, 600

-- verdicts[i]: "accepted", "refused:<limit>", "error:...", "crash (rc N)"
local function run_corpus()
  local verdicts, from = {}, 1
  while from <= #cases do
    local to = math.min(from + BATCH - 1, #cases)
    local p = io.popen(("timeout %d ./clara spec/helpers/jit_source_child.lua %d %d 2>&1; echo rc=$?")
      :format(TIMEOUT, from, to))
    local current, rc, last = nil, nil, {}
    for line in p:lines() do
      local s = line:match("^start (%d+)$")
      local d, v = line:match("^done (%d+) [%d%.]+ (.*)$")
      if s then current = tonumber(s)
      elseif d then verdicts[tonumber(d)], current = v, nil
      elseif line:match("^rc=%d+$") then rc = tonumber(line:match("%d+"))
      else last[#last + 1] = line end
    end
    p:close()
    if current then -- the child died inside this case
      verdicts[current] = ("crash (rc %s): %s"):format(rc, table.concat(last, " "):sub(1, 200))
      from = current + 1
    elseif rc ~= 0 then
      verdicts[to] = verdicts[to] or ("child failed (rc %s): %s"):format(rc, table.concat(last, " "):sub(1, 200))
      from = to + 1
    else
      from = to + 1
    end
  end
  return verdicts
end

describe("torch.jit.compile of hostile source", function()
  it("the scanner measures what each case was built with", function()
    for _, c in ipairs(cases) do
      local depth, _, terms = torch.jit.source_shape(c.src)
      if c.depth then assert.equal(c.depth, depth, c.name) end
      if c.terms then assert.equal(c.terms, terms, c.name) end
    end
  end)

  it("the scanner skips strings, comments and escapes", function()
    local shape = torch.jit.source_shape
    assert.equal(1, (shape("def f(self):\n    s = '((((\\'(((('\n    return s\n")))
    assert.equal(1, (shape("def f(self):\n    s = \"\"\"(((\n(((\n\"\"\"  # ((((\n    return s\n")))
    assert.equal(2, (shape("def f(self):\n    return [x, # ((((\n    y]\n")))
    assert.equal(3, (shape("def f(self):\n    return g(x,\n        h(y))\n")))
    assert.equal(2, (shape("def f(self):\n    if x:\n        y = 1\n    return y\n")))
    local _, _, terms, line = shape("def f(self):\n    y = a + b * c\n    return -y\n")
    assert.equal(3, terms) -- '=', '+' and '*'
    assert.equal(2, line)
  end)

  local verdicts = run_corpus()
  local families, failed = {}, {}
  for i, c in ipairs(cases) do
    local f = families[c.family] or { n = 0, bad = 0 }
    families[c.family] = f
    f.n = f.n + 1
    local want = c.expect == "accept" and "accepted" or ("refused:" .. c.limit)
    if verdicts[i] ~= want then
      f.bad = f.bad + 1
      failed[#failed + 1] = ("#%d %s: expected %s, got %s"):format(i, c.name, want, tostring(verdicts[i]))
    end
  end

  for i, c in ipairs(cases) do
    it(("#%d %s is %sed"):format(i, c.name, c.expect), function()
      local want = c.expect == "accept" and "accepted" or ("refused:" .. c.limit)
      assert.equal(want, verdicts[i])
    end)
  end

  it("counts: hundreds of cases, every family covered", function()
    assert.is_true(#cases >= 300, "only " .. #cases .. " cases")
    local names = {}
    for name, f in pairs(families) do names[#names + 1] = ("%s %d/%d"):format(name, f.n - f.bad, f.n) end
    table.sort(names)
    if os.getenv("CLARA_SHOW_COUNTS") then io.stderr:write(table.concat(names, "\n"), "\n") end
    assert.same({}, failed)
  end)
end)

describe("torch.jit.compile limits", function()
  it("name the limit, its value, the line and the way to raise it", function()
    local src = "def forward(self, x):\n    y = x\n    return " .. ("("):rep(DEPTH + 5) .. "x" .. (")"):rep(DEPTH + 5) .. "\n"
    local ok, err = pcall(torch.jit.compile, src)
    assert.is_false(ok)
    assert.matches("^spec/hostile_jit_spec.lua:%d+: torch.jit.compile: ", err)
    assert.matches("at line 3", err, 1, true)
    assert.matches("clara.limits.script_depth = " .. DEPTH, err, 1, true)
    assert.matches("raise it with clara.limits.script_depth = n", err, 1, true)
  end)

  it("follow clara.limits when raised", function()
    local src = "def forward(self, x):\n    return " .. ("("):rep(DEPTH + 50) .. "x" .. (")"):rep(DEPTH + 50) .. "\n"
    assert.has_error(function() torch.jit.compile(src) end)
    limits.script_depth = DEPTH + 100
    local ok, m = pcall(torch.jit.compile, src)
    limits.script_depth = DEPTH
    assert.is_true(ok, tostring(m))
    local x = torch.ones(2)
    assert.is_true(torch.equal(x, m(x)))
  end)
end)

describe("TorchScript integer division", function()
  local sh = require("spec.helpers.shell").sh
  local SRC = "def helper(self, a: int, b: int) -> int:\n    return a % b\n"
    .. "def forward(self, a: int, b: int, op: str) -> int:\n"
    .. "    if op == '%':\n        return a % b\n"
    .. "    if op == '//':\n        return a // b\n"
    .. "    if op == 'divmod':\n        return divmod(a, b)[0]\n"
    .. "    return self.helper(a, b)\n"
  -- each call in its own process: the division traps (SIGFPE) unless guarded
  local function run(a, b, op)
    return sh(("./clara -e \"local m = torch.jit.compile([[%s]]); local ok, e = pcall(m.forward, m, %s, %s, '%s'); "
      .. "print(ok, e); assert(not m:code():find('clara'))\""):format(SRC, a, b, op))
  end
  for _, c in ipairs {
    { "0", "%", "ZeroDivisionError" }, { "0", "//", "ZeroDivisionError" }, { "0", "divmod", "ZeroDivisionError" },
    { "0", "helper", "ZeroDivisionError" }, { "-1", "%", "integer overflow" }, { "-1", "//", "integer overflow" },
    { "-1", "divmod", "integer overflow" }, { "-1", "helper", "integer overflow" },
  } do
    it(("%s by %s raises, the process lives"):format(c[2], c[1]), function()
      local out, rc = run("math.mininteger", c[1], c[2])
      assert.equal(0, rc, out)
      assert.matches("false\t.*script method forward: " .. c[3], out)
    end)
  end
  it("valid divisions are unchanged", function()
    local out, rc = run(-7, 2, "divmod")
    assert.equal(0, rc, out)
    assert.matches("true\t%-4", out)
  end)
end)
