-- The one scanner of TorchScript source (bindings/bridge/source.cpp) that
-- torch.jit.compile and torch.jit.load's archive check share, measured
-- directly: nesting (brackets, blocks, runs of prefix operators, ** chains)
-- and terms per statement, each with its line.  And the file reader both
-- loads go through, which must not leak its descriptor when the buffer
-- cannot be allocated.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/jit_source_shape_spec.lua

local torch = require "torch"
local shape = torch.jit.source_shape

local function depth(src) return (shape(src)) end
local function terms(src) return select(3, shape(src)) end

describe("torch.jit.source_shape", function()
  it("counts a run of prefix operators as nesting, side by side ones as flat", function()
    assert.equal(1 + 300, depth("def f(self, x):\n    return " .. ("-"):rep(300) .. "x\n"))
    assert.equal(1 + 300, depth("def f(self, x):\n    return " .. ("not "):rep(300) .. "True\n"))
    assert.equal(1 + 300, depth("def f(self, x):\n    return " .. ("~"):rep(300) .. "x\n"))
    assert.equal(1 + 300, depth("def f(self, x):\n    return x" .. (" ** 2"):rep(300) .. "\n"))
    assert.equal(1 + 600, depth("def f(self, x):\n    return x" .. (" ** -x"):rep(300) .. "\n"))
    assert.equal(1 + 1 + 1, depth("def f(self, x):\n    return [" .. ("-1, "):rep(300) .. "-1]\n"))
    assert.equal(1 + 1, depth("def f(self, x):\n    return -x" .. (" * -x"):rep(300) .. "\n"))
    assert.equal(1 + 1, depth("def f(self, x):\n    return x" .. (" - -x"):rep(300) .. "\n"))
    assert.equal(1 + 1, depth("def f(self, x):\n    return not a" .. (" and not b"):rep(300) .. "\n"))
    assert.equal(1 + 1, depth("def f(self, x):\n    return x" .. (" ** 2 + 1"):rep(300) .. "\n"))
  end)

  it("counts prefix operators inside brackets with the brackets", function()
    assert.equal(1 + 2 * 100, depth("def f(self, x):\n    return " .. ("-("):rep(100) .. "x" .. (")"):rep(100) .. "\n"))
    -- a run inside a bracket ends with the bracket, the outer one goes on
    assert.equal(1 + 3 + 1 + 1, depth("def f(self, x):\n    return - - -(-x) + (-x)\n"))
  end)

  it("tells binary from unary", function()
    assert.equal(1, depth("def f(self, a, b):\n    return a not in b\n"))
    assert.equal(1, depth("def f(self, a):\n    return 1e-5 - a\n"))
    assert.equal(2, depth("def f(self, a) -> int:\n    return a[0] - a[1]\n"))
    assert.equal(2, depth("def f(self, a):\n    return 'x' - -a\n"))
    assert.equal(1 + 3, depth("def f(self, a):\n    return a - - - -a\n"))
  end)

  it("ends a statement at a newline outside brackets only", function()
    local _, _, t, line = shape("def f(self, x):\n    y = (x +\n  x + x)\n    return y + y\n")
    assert.equal(4, t) -- '=', '(', '+', '+'
    assert.equal(3, line)
    assert.equal(3, terms("def f(self, x):\n    y = x + \\\n        x + x\n"))
    assert.equal(1, terms("def f(self, x):\n    y = x\n    z = y\n"))
  end)

  it("follows tabs, CRLF, blank lines and comments when measuring blocks", function()
    assert.equal(2, depth("def f(self, x):\r\n\tif x:\r\n\t\ty = x\r\n\treturn x\r\n"))
    assert.equal(1, depth("def f(self, x):\n\n    # ((((\n        \n    return x\n"))
    assert.equal(2, depth("def f(self, x):\n        if x:\n\t y = 1\n        return x\n"))
    assert.equal(3, depth("def f(self, x):\n    if x:\n        if x:\n            y = 1\n    return x\n"))
  end)

  it("skips strings, including escapes and unterminated ones", function()
    assert.equal(1, depth("def f(self):\n    s = 'a\\' ((((' + \"((\"\n"))
    assert.equal(1, depth("def f(self):\n    s = r'\\'(('\n"))
    local d, line = shape("def f(self):\n    s = '(((\n    return ((x))\n")
    assert.equal(3, d)
    assert.equal(3, line)
    assert.equal(0, depth(""))
    assert.equal(0, depth("\n\n   \n"))
  end)

  it("refuses a non-string", function()
    local ok, err = pcall(shape, 1)
    assert.is_false(ok)
    assert.matches("torch.jit.source_shape: source text %(a string%) expected, got number", err)
  end)

  it("is what torch.jit.compile obeys: a deep run of prefix operators is refused", function()
    local ok, err = pcall(torch.jit.compile, "def forward(self, x):\n    return " .. ("-"):rep(300) .. "x\n")
    assert.is_false(ok)
    assert.matches("torch.jit.compile: the nesting depth of the source (brackets, blocks and prefix operators, "
      .. "at line 2) is 301, over the limit clara.limits.script_depth = 200", err, 1, true)
    local m = torch.jit.compile("def forward(self, x):\n    return [" .. ("-x, "):rep(2000) .. "-x][7]\n")
    assert.is_true(torch.equal(-torch.ones(2), m(torch.ones(2))))
  end)
end)

-- the descriptors this process holds
local function open_fds()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  local p = io.popen("ls /proc/" .. pid .. "/fd | wc -l")
  local n = p:read("n")
  p:close()
  return n
end

describe("reading a file too large for memory", function()
  local path = os.tmpname()
  setup(function()
    -- sparse: no disk is used, but its buffer cannot be allocated
    assert(os.execute("truncate -s 15T '" .. path .. "'"))
  end)
  teardown(function() os.remove(path) end)

  for _, api in ipairs { "torch.load", "torch.jit.load" } do
    it(api .. " raises and closes the file", function()
      local fn = api == "torch.load" and torch.load or torch.jit.load
      local before = open_fds()
      for _ = 1, 20 do
        local ok, err = pcall(fn, path)
        assert.is_false(ok)
        assert.matches(api .. ": cannot read '" .. path .. "': not enough memory for its "
          .. (15 << 40) .. " bytes", err, 1, true)
      end
      assert.equal(before, open_fds())
    end)
  end
end)
