-- Tensor memory from Lua: a training-sized loop that allocates a tensor per
-- step keeps the process's memory flat with no collectgarbage() in user code
-- (the bindings count tensor bytes as collector debt), and `<close>` and
-- t:free() release storage at once.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/memory_spec.lua
-- (about 20 s, most of it the 100,000-step loop)

local torch = require "torch"

local MB = 1024 -- rss() is in kB

-- resident set size of this process, in kB
local function rss()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s+(%d+)%s+kB")
    if kb then return tonumber(kb) end
  end
  error("no VmRSS in /proc/self/status")
end

local function report(fmt, ...)
  io.stderr:write("\n  [memory] " .. fmt:format(...) .. "\n")
end

-- 262144 float32 = 1 MiB of storage
local ONE_MB = 262144

--[[ The bound.  Each step below allocates 2 MiB (the zeros and the result of
add), so 100,000 steps with nothing freed would grow by ~200 GB, and even one
tensor in a hundred leaked would be 2 GB.  Garbage the collector has not yet
reached is bounded by the pace the bindings set (one incremental step per MB
acquired): measured, it stays within a few MB.  The allocator keeps freed
chunks around too.  64 MB leaves room for both, and is still 3,000 times less
than a leak. ]]
local BOUND_KB = 64 * MB

-- runs step() n times, sampling RSS; returns the final and peak growth (kB)
-- over a baseline taken after `warm` steps of warm-up
local function growth(step, n, warm)
  for _ = 1, warm do step() end
  local base = rss()
  local peak = base
  for i = 1, n do
    step()
    if i % 1000 == 0 then
      local r = rss()
      if r > peak then peak = r end
    end
  end
  return rss() - base, peak - base, base
end

describe("memory", function()
  setup(function() collectgarbage() end)

  it("stays flat over 100,000 steps of 1 MB tensors without collectgarbage()", function()
    local clock = os.time()
    local t0 = os.clock()
    local final, peak, base = growth(function()
      local t = torch.zeros(ONE_MB)      -- 1 MiB
      local s = t:add(1):sum():item()    -- another 1 MiB, and a small op
      assert(s == ONE_MB)
    end, 100000, 3000)
    report("100,000 steps of 2 x 1 MiB: RSS %d MB at the start, %+.1f MB at the end, "
      .. "peak %+.1f MB; %.1f s CPU, %d s wall", base // MB, final / MB, peak / MB,
      os.clock() - t0, os.time() - clock)
    assert.is_true(peak < BOUND_KB, ("RSS grew by %.1f MB (bound %d MB)"):format(peak / MB, BOUND_KB // MB))
    assert.is_true(final < BOUND_KB, ("RSS grew by %.1f MB (bound %d MB)"):format(final / MB, BOUND_KB // MB))
  end)

  it("stays flat in generational mode too", function()
    local old = collectgarbage("generational")
    local ok, final, peak = pcall(growth, function()
      local t = torch.ones(ONE_MB)
      t:mul_(2)
    end, 20000, 2000)
    collectgarbage(old)
    assert(ok, final)
    assert.is_true(peak < BOUND_KB, ("RSS grew by %.1f MB"):format(peak / MB))
    assert.is_true(final < BOUND_KB, ("RSS grew by %.1f MB"):format(final / MB))
  end)

  -- every path that hands a new tensor to Lua must count its bytes
  local paths = {
    { "operators with numbers", function() return 2 * torch.zeros(ONE_MB) + 1 end },
    { "views and reshapes", function() return torch.zeros(512, 512):t():reshape(-1) end },
    { "indexing", function() return torch.zeros(512, 512)[{ { 1, 256 } }] + 1 end },
    { "cat", function() local a = torch.zeros(ONE_MB // 2); return torch.cat { a, a } end },
    { "split", function() return torch.zeros(ONE_MB):split(ONE_MB // 4) end },
    { "max with indices", function() local v, i = torch.zeros(512, 512):max(1); return i end },
    { "torch.tensor copy", function() return torch.tensor(torch.zeros(ONE_MB)) end },
    { "*_like", function() return torch.zeros_like(torch.zeros(ONE_MB)) end },
    { "backward and x.grad", function()
      local x = torch.zeros(ONE_MB, { requires_grad = true })
      ;(x * 2):sum():backward()
      return x.grad
    end },
    { "no_grad", function() return torch.no_grad(function() return torch.rand(ONE_MB) * 3 end) end },
  }
  for _, p in ipairs(paths) do
    it("stays flat for " .. p[1], function()
      local final, peak = growth(p[2], 5000, 500)
      assert.is_true(peak < BOUND_KB, ("RSS grew by %.1f MB"):format(peak / MB))
      assert.is_true(final < BOUND_KB, ("RSS grew by %.1f MB"):format(final / MB))
    end)
  end

  describe("explicit release", function()
    local BIG = 32 * 1024 * 1024 -- float32: 128 MiB
    local BIG_KB = 128 * MB

    --[[ Debian's libtorch allocates through tcmalloc, which keeps freed pages
    for reuse instead of handing them back to the system at once: RSS does not
    drop after a free, by anyone.  So in this process a free is proven by
    reuse: with the first tensor's userdata still referenced (so the collector
    cannot be what freed it), a second 128 MiB tensor must fit in the pages the
    first one held.  A child process with TCMALLOC_AGGRESSIVE_DECOMMIT, which
    returns freed pages at once, then shows RSS itself dropping. ]]

    -- takes up the free pages the allocator holds from earlier tests, so
    -- that the next big tensor needs new ones
    local function drain()
      local held = {}
      for _ = 1, 64 do
        local r = rss()
        held[#held + 1] = torch.ones(BIG)
        if rss() - r > BIG_KB * 0.9 then break end
      end
      return held
    end

    -- allocates 128 MiB, runs release(t), allocates 128 MiB again; returns
    -- the RSS growth (kB) after the first allocation and after the second
    local function reuse(release)
      collectgarbage()
      -- 1. drain tcmalloc's free pages until a fresh 128 MiB shows in RSS;
      --    a busy machine may need more than one try
      local held, base, first, grown = {}, 0, nil, 0
      for _ = 1, 4 do
        for _, t in ipairs(drain()) do held[#held + 1] = t end
        base = rss()
        first = torch.ones(BIG)
        grown = rss() - base
        if grown > BIG_KB * 0.9 then break end
        held[#held + 1] = first
      end
      -- 2. release it and allocate again: a freed tensor's pages come back
      release(first)
      local second = torch.ones(BIG)
      local regrown = rss() - base
      second:free()
      for _, h in ipairs(held) do h:free() end
      assert.is_true(grown > BIG_KB * 0.9, "allocating 128 MiB did not show in RSS")
      return grown, regrown, first
    end

    it("the reuse test can tell a freed tensor from a live one", function()
      local keep
      local grown, regrown = reuse(function(t) keep = t end) -- not freed
      assert.is_true(regrown - grown > BIG_KB * 0.9, "two live 128 MiB tensors did not show in RSS")
      keep:free()
    end)

    it("<close> frees the tensor at the end of the block, with no GC", function()
      local ref -- keeps the userdata alive: only the close can free its storage
      local grown, regrown = reuse(function(t)
        ref = t
        do
          local c <close> = t
          assert.equal(BIG, c:sum():item())
        end
      end)
      assert.is_true(regrown - grown < BIG_KB * 0.1,
        ("RSS grew %.1f MB more: the closed tensor's storage was not reused"):format((regrown - grown) / MB))
      local ok, err = pcall(function() return ref:sum() end)
      assert.is_false(ok)
      assert.matches("tensor already freed", err)
      ok, err = pcall(function() return ref + 1 end)
      assert.is_false(ok)
      assert.matches("tensor already freed", err)
      ok, err = pcall(tostring, ref)
      assert.is_false(ok)
      assert.matches("tensor already freed", err)
    end)

    it("<close> frees on the way out of an error too", function()
      local ref
      local grown, regrown = reuse(function(t)
        local ok, err = pcall(function()
          local c <close> = t
          ref = c
          error("raised inside the block")
        end)
        assert.is_false(ok)
        assert.matches("raised inside the block", err)
      end)
      assert.is_true(regrown - grown < BIG_KB * 0.1)
      assert.is_false(pcall(ref.numel, ref))
    end)

    it("t:free() frees at once; a second free, a close and the GC after it are harmless", function()
      local grown, regrown, t = reuse(function(t) t:free() end)
      assert.is_true(regrown - grown < BIG_KB * 0.1)
      t:free()
      t:free()
      do local again <close> = t end -- __close after free
      local ok, err = pcall(t.numel, t)
      assert.is_false(ok)
      assert.matches("tensor already freed", err)
      t = nil
      collectgarbage() -- __gc after free
      collectgarbage()
    end)

    it("RSS drops at once after <close> and free() when the allocator returns pages", function()
      local clara = "./clara"
      assert(io.open(clara), "run from the repository root")
      -- (the chunk becomes one shell line: no comments in it; torch.ones(1)
      -- loads libtorch, which clara does on first use, before the baseline)
      local chunk = [[
        local function rss()
          for l in io.lines("/proc/self/status") do
            local kb = l:match("^VmRSS:%s+(%d+)")
            if kb then return tonumber(kb) end
          end
        end
        local _ = torch.ones(1)
        collectgarbage("stop")
        local r0 = rss()
        local ref
        do local t <close> = torch.ones(32 * 1024 * 1024); ref = t; io.write(rss() - r0, " ") end
        io.write(rss() - r0, " ")
        local u = torch.ones(32 * 1024 * 1024)
        io.write(rss() - r0, " ")
        u:free()
        io.write(rss() - r0, "
")
      ]]
      local cmd = ("TCMALLOC_AGGRESSIVE_DECOMMIT=true %s -e %q 2>&1"):format(clara, chunk)
      local pipe = assert(io.popen(cmd))
      local out = pipe:read("a")
      pipe:close()
      local a, b, c, d = out:match("^(%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+)")
      assert(a, "unexpected output: " .. out)
      a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
      report("child process RSS, MB over its start: %.0f in the block, %.0f after it, "
        .. "%.0f after a new tensor, %.0f after free()", a / MB, b / MB, c / MB, d / MB)
      assert.is_true(a > BIG_KB * 0.9, out)
      assert.is_true(b < BIG_KB * 0.1, out)
      assert.is_true(c > BIG_KB * 0.9, out)
      assert.is_true(d < BIG_KB * 0.1, out)
    end)

    it("freeing a handle frees only that handle: views and x.grad keep their storage", function()
      local base = torch.arange(6, { dtype = "float32" })
      local view = base:view(2, 3)
      view:free()
      assert.equal(15, base:sum():item())
      local v2 = base:view(3, 2)
      base:free()
      assert.equal(15, v2:sum():item()) -- the view still holds the storage
      local x = torch.ones(3, { requires_grad = true })
      x:sum():backward()
      local g = x.grad
      g:free()
      assert.same({ 1, 1, 1 }, x.grad:totable())
    end)
  end)
end)
