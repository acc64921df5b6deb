-- The hostile TorchScript source corpus of spec/hostile_jit_spec.lua: a
-- deterministic list of cases, the same in the spec and in the children it
-- runs them in (spec/helpers/jit_source_child.lua).  Not a spec itself.
--
-- A case is { name =, family =, src =, expect = "accept" | "refuse",
-- limit = "script_depth" | "script_terms" (what refuses it), check = how
-- forward(x) is checked when accepted: "x", "neg", "times" (n + 1) * x,
-- "negtimes" -(n + 1) * x, "bool", or nil for compiling only; depth = the
-- nesting the case was built with (brackets, blocks, prefix operators; the
-- `return` line's own block counts), terms = the terms of its statement,
-- raise = limits to set first }.
local M = {}

local HEAD = "def forward(self, x):\n"

-- {====================== nesting ======================

-- each wraps a tensor expression into one that evaluates to the same
-- tensor, opening `levels` brackets
local WRAPPERS = {
  paren = { "(", ")", 1 },
  list = { "[", "][0]", 1 },
  tuple = { "(", ",)[0]", 1 },
  dict = { "{'k': ", "}['k']", 1 },
  call = { "torch.clone(", ")", 1 },
  call2 = { "torch.squeeze(torch.unsqueeze(", ", 0), 0)", 2 },
}
M.wrapper_names = { "paren", "list", "tuple", "dict", "call", "call2" }

-- x wrapped by the listed wrappers (outermost first); returns the text and
-- the bracket depth
local function nest(names)
  local open, close, depth = {}, {}, 0
  for i, name in ipairs(names) do
    local w = WRAPPERS[name]
    open[i], close[#names + 1 - i], depth = w[1], w[2], depth + w[3]
  end
  return table.concat(open) .. "x" .. table.concat(close), depth
end

local function nest_case(family, names, n)
  local body, depth = nest(names)
  return { family = family, src = HEAD .. "    return " .. body .. "\n", depth = depth + 1, check = "x",
           name = ("%s, depth %d"):format(family, depth + 1) }
end

local function blocks(n)
  local lines = { "def forward(self, x):" }
  for i = 1, n do lines[#lines + 1] = (" "):rep(i) .. "if True:" end
  lines[#lines + 1] = (" "):rep(n + 1) .. "x = x + 0"
  lines[#lines + 1] = " return x"
  return table.concat(lines, "\n") .. "\n"
end
-- }================================================================

-- {====================== terms of one statement ======================

-- { terms per unit, builder, how forward(x) ends up }
local CHAINS = {
  neg = { 1, function(n) return ("-"):rep(n) .. "x" end, function(n) return n % 2 == 0 and "x" or "neg" end },
  ["not"] = { 1, function(n) return ("not "):rep(n) .. "True" end, "bool" },
  plus = { 1, function(n) return "x" .. (" + x"):rep(n) end, "times" },
  times_one = { 1, function(n) return "x" .. (" * 1"):rep(n) end, "x" },
  clone = { 2, function(n) return "x" .. (".clone()"):rep(n) end, "x" },
  slice = { 1, function(n) return "x" .. ("[0:]"):rep(n) end, "x" },
  ternary = { 2, function(n) return ("x if True else "):rep(n) .. "x" end, "x" },
  ["and"] = { 1, function(n) return "True" .. (" and True"):rep(n) end, "bool" },
  pow = { 2, function(n) return "x" .. (" ** 1"):rep(n) end, "x" }, -- right-associative
}
-- the chains whose every unit nests one level deeper (prefix operators,
-- right-associative **): clara.limits.script_depth bounds them first
local NESTING = { neg = true, ["not"] = true, pow = true }
local BRACKETED = { clone = true, slice = true } -- one level: each bracket closes
M.chain_names = { "neg", "not", "plus", "times_one", "clone", "slice", "ternary", "and", "pow" }

local function chain_case(kind, n)
  local c = CHAINS[kind]
  local check = type(c[3]) == "function" and c[3](n) or c[3]
  return { family = "chain " .. kind, src = HEAD .. "    return " .. c[2](n) .. "\n", check = check,
           n = n, terms = n * c[1], depth = NESTING[kind] and n + 1 or BRACKETED[kind] and 2 or 1,
           name = ("chain %s, %d terms"):format(kind, n * c[1]) }
end

-- n prefix operators that do not nest: each ends before the next begins
local FLAT_PREFIX = {
  list = function(n) return "[" .. ("-x, "):rep(n - 1) .. "-x][0]", "neg", n + 2 end,
  sum = function(n) return "-x" .. (" + -x"):rep(n - 1), "negtimes", 2 * n - 1 end,
  nots = function(n) return "[" .. ("not True, "):rep(n - 1) .. "not True][0]", "bool", n + 2 end,
  minus = function(n) return "x" .. (" - -x"):rep(n - 1), "times", 2 * (n - 1) end,
}
M.flat_prefix_names = { "list", "sum", "nots", "minus" }

local function flat_prefix_case(kind, n)
  local body, check, terms = FLAT_PREFIX[kind](n)
  return { family = "flat prefix " .. kind, src = HEAD .. "    return " .. body .. "\n", check = check,
           n = n - 1, terms = terms, depth = (kind == "sum" or kind == "minus") and 2 or 3,
           name = ("%d prefix operators in a %s"):format(n, kind) }
end
-- }================================================================

-- {====================== deep text that is not code ======================

local STRINGS = {
  single = function(s) return "'" .. s .. "'" end,
  double = function(s) return '"' .. s .. '"' end,
  triple_single = function(s) return "'''" .. s .. "'''" end,
  triple_double = function(s) return '"""' .. s .. '"""' end,
  escaped_quote = function(s) return '"\\"' .. s .. '\\""' end,
  other_quote = function(s) return "'\"" .. s .. "\"'" end,
}
M.string_names = { "single", "double", "triple_single", "triple_double", "escaped_quote", "other_quote" }

local FILL = {
  parens = function(n) return ("("):rep(n) end,
  brackets = function(n) return ("["):rep(n) .. ("]"):rep(n // 2) end,
  braces = function(n) return ("{"):rep(n) end,
  mixed = function(n) return ("([{"):rep(n // 3) .. ("}])"):rep(n // 6) end,
}
M.fill_names = { "parens", "brackets", "braces", "mixed" }

local function string_case(kind, fill, n)
  local s = STRINGS[kind](FILL[fill](n))
  return { family = "inside strings", src = HEAD .. "    s = " .. s .. "\n    return x\n", check = "x",
           name = ("%s string of %d %s"):format(kind, n, fill) }
end

local function comment_case(fill, n)
  return { family = "inside comments", check = "x", name = ("comment of %d %s"):format(n, fill),
           src = HEAD .. "    # " .. FILL[fill](n) .. "\n    return x  # " .. FILL[fill](n) .. "\n" }
end

local function docstring_case(lines, n)
  local body = {}
  for i = 1, lines do body[i] = FILL.mixed(n) end
  return { family = "inside strings", check = "x", name = ("docstring of %d lines of %d brackets"):format(lines, n),
           src = HEAD .. '    """' .. table.concat(body, "\n") .. '"""\n    return x\n' }
end
-- }================================================================

-- {====================== long and flat ======================

local function statements(n)
  local lines = { "def forward(self, x):" }
  for i = 1, n do lines[#lines + 1] = "    x = x + 0" end
  lines[#lines + 1] = "    return x"
  return { family = "long flat", src = table.concat(lines, "\n") .. "\n", check = "x",
           name = ("%d statements"):format(n) }
end

local function flat_list(n)
  return { family = "long flat", src = HEAD .. "    return [" .. ("x, "):rep(n) .. "x][" .. n .. "]\n",
           check = "x", name = ("a list of %d items"):format(n + 1) }
end

local function methods(n)
  local defs = {}
  for i = 1, n do defs[i] = ("def m%d(self, x):\n    return x\n"):format(i) end
  return { family = "long flat", src = table.concat(defs) .. HEAD .. "    return self.m" .. n .. "(x)\n",
           check = "x", name = ("%d methods"):format(n + 1) }
end

local function long_string(n)
  return { family = "long flat", src = HEAD .. "    s = '" .. ("a"):rep(n) .. "'\n    return x\n",
           check = "x", name = ("a string of %d bytes"):format(n) }
end
-- }================================================================

-- {====================== random nesting ======================

-- a small deterministic generator (xorshift), so the corpus does not
-- depend on math.random's seed
local function rng(seed)
  local s = seed
  return function(n)
    s = s ~ (s << 13) & 0xffffffff
    s = s ~ (s >> 17)
    s = s ~ (s << 5) & 0xffffffff
    return s % n + 1
  end
end
-- }================================================================

function M.cases(depth_limit, terms_limit)
  local cases = {}
  local function add(c, expect, limit)
    c.expect, c.limit = expect, limit
    cases[#cases + 1] = c
  end
  -- over the depth limit: each kind of bracket, then mixed, then blocks
  for _, d in ipairs { depth_limit + 1, 300, 500, 1000, 2000, 5000, 10000, 20000 } do
    for _, w in ipairs(M.wrapper_names) do
      local names = {}
      for i = 1, d // WRAPPERS[w][3] + 1 do names[i] = w end
      add(nest_case("deep " .. w, names), "refuse", "script_depth")
    end
    local names = {}
    for i = 1, d do names[i] = M.wrapper_names[(i * 7) % #M.wrapper_names + 1] end
    add(nest_case("deep mixed", names), "refuse", "script_depth")
    add({ family = "deep unclosed", name = ("%d unclosed parens"):format(d), depth = d + 1,
          src = HEAD .. "    return " .. ("("):rep(d) .. "x\n" }, "refuse", "script_depth")
  end
  for _, d in ipairs { depth_limit, 500, 2000, 8000, 20000 } do
    add({ family = "deep blocks", src = blocks(d), depth = d + 1, name = ("%d nested blocks"):format(d) },
      "refuse", "script_depth")
  end
  -- within the depth limit: accepted, and forward(x) is x
  for _, d in ipairs { 1, 10, 50, 100, 150, depth_limit - 1 } do
    for _, w in ipairs(M.wrapper_names) do
      local names = {}
      for i = 1, (d - 1) // WRAPPERS[w][3] do names[i] = w end
      add(nest_case("nested " .. w, names), "accept")
    end
  end
  for _, d in ipairs { 1, 20, 100, depth_limit - 2 } do
    add({ family = "nested blocks", src = blocks(d), depth = d + 1, check = "x",
          name = ("%d nested blocks"):format(d) }, "accept")
  end
  -- terms of one statement, over and within the limit; a nesting chain
  -- is over the depth limit first
  for _, kind in ipairs(M.chain_names) do
    local per = CHAINS[kind][1]
    for _, t in ipairs { terms_limit + per, 8000, 12000, 20000, 50000 } do
      add(chain_case(kind, (t + per - 1) // per), "refuse", NESTING[kind] and "script_depth" or "script_terms")
    end
    if NESTING[kind] then
      for _, n in ipairs { depth_limit, depth_limit + 1, 300, 1000, 2000 } do
        add(chain_case(kind, n), "refuse", "script_depth")
      end
      for _, n in ipairs { 1, 2, 50, 100, depth_limit - 1 } do add(chain_case(kind, n), "accept") end
    else
      for _, t in ipairs { 2, 100, 1000, terms_limit // 2, terms_limit } do
        add(chain_case(kind, t // per), "accept")
      end
    end
  end
  -- prefix operators side by side do not nest: accepted up to the terms limit
  for _, kind in ipairs(M.flat_prefix_names) do
    for _, n in ipairs { 10, depth_limit + 1, 1000, terms_limit // 2 - 2 } do
      add(flat_prefix_case(kind, n), "accept")
    end
    add(flat_prefix_case(kind, terms_limit + 1), "refuse", "script_terms")
  end
  -- brackets inside strings, comments and docstrings do not nest
  for _, kind in ipairs(M.string_names) do
    for _, fill in ipairs(M.fill_names) do
      add(string_case(kind, fill, fill == "brackets" and 50000 or 12000), "accept")
    end
  end
  for _, fill in ipairs(M.fill_names) do add(comment_case(fill, 20000), "accept") end
  for _, lines in ipairs { 2, 20, 200 } do add(docstring_case(lines, 3000), "accept") end
  -- long but flat
  for _, n in ipairs { 1000, 5000, 20000, 30000 } do add(statements(n), "accept") end
  for _, n in ipairs { 100, 1000, 5000, 20000 } do add(flat_list(n), "accept") end
  for _, n in ipairs { 10, 200 } do add(methods(n), "accept") end
  for _, n in ipairs { 1000, 100000, 1000000 } do add(long_string(n), "accept") end
  -- random mixtures around the limit: refused exactly when deeper than it
  local r = rng(20261202)
  for _ = 1, 100 do
    local names, depth = {}, 0
    local want = depth_limit - 60 + r(120)
    while depth + 1 < want do
      local w = M.wrapper_names[r(#M.wrapper_names)]
      if depth + 1 + WRAPPERS[w][3] > want then w = "paren" end
      names[#names + 1] = w
      depth = depth + WRAPPERS[w][3]
    end
    local c = nest_case("random mixed", names)
    c.name = ("random mixed, depth %d"):format(c.depth)
    add(c, c.depth > depth_limit and "refuse" or "accept", c.depth > depth_limit and "script_depth" or nil)
  end
  -- with the limit raised, libtorch still survives (its parser runs on a
  -- large stack)
  for _, d in ipairs { 3000, 6000, 12000 } do
    local names = {}
    for i = 1, d do names[i] = "paren" end
    local c = nest_case("raised limit", names)
    c.name = ("depth %d with script_depth and script_terms raised"):format(d + 1)
    c.raise = { script_depth = 100000, script_terms = 100000 }
    add(c, "accept")
  end
  for _, n in ipairs { 6000, 20000 } do
    local c = chain_case("neg", n)
    c.family, c.raise = "raised limit", { script_depth = 100000, script_terms = 100000 }
    c.name = ("%d prefix operators with script_depth and script_terms raised"):format(n)
    add(c, "accept")
  end
  for i, c in ipairs(cases) do c.index = i end
  return cases
end

return M
