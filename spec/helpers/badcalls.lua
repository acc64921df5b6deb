-- The shared runner of the bad-call specs (spec/badcalls*_spec.lua); not a
-- spec itself (no "_spec" in the name).  Called inside a describe block, it
-- registers one `it` per case that pcalls the bad call and checks that the
-- error is a string naming the function and saying what is wrong, that it
-- leaks no C++ details and that it is short.
--
--   local badcalls = require "spec.helpers.badcalls"   -- run from the repo root
--   describe("...", function() badcalls(cases, opts) end)
--
-- A case is { description, function name, what ..., the bad call }: every
-- string between the name and the call must be in the message (plain,
-- case-insensitive); most specs give exactly one.  `nopos = true` in a case
-- skips opts.position for it.
--
-- opts (all optional):
--   marks     Lua patterns that must not be in the message (default: what a
--             C++ exception would drag along if the bridge let it through)
--   position  a Lua pattern the message must match (its position is the
--             caller's line, not a line inside clara), unless case.nopos
--   max_len   the message must be shorter than this (default 600; false: no limit)
--   width     the description column of CLARA_SHOW_ERRORS=1 output (default 45)

-- a required module does not see the spec file's environment, where busted
-- puts `it` and `assert`: take them from busted's API instead
local busted = require "busted"
local it, assert = busted.it, busted.assert

local default_marks = { "Exception raised from", "frame #%d", "%.cpp:%d", "%.h:%d", "c10::", "at::",
                        "0x%x%x%x%x%x%x" }

return function(cases, opts)
  opts = opts or {}
  local marks = opts.marks or default_marks
  local max_len = opts.max_len == nil and 600 or opts.max_len
  local line = "%3d %-" .. (opts.width or 45) .. "s %s\n"
  local show = os.getenv("CLARA_SHOW_ERRORS")

  for i, case in ipairs(cases) do
    local desc, fname, fn = case[1], case[2], case[#case]
    it(("#%d %s"):format(i, desc), function()
      local ok, err = pcall(fn)
      assert.is_false(ok, "no error raised")
      assert.equal("string", type(err))
      if show then io.stderr:write(line:format(i, desc, err)) end
      assert.is_truthy(err:find(fname, 1, true), "message does not name '" .. fname .. "': " .. err)
      for k = 3, #case - 1 do
        assert.is_truthy(err:lower():find(case[k]:lower(), 1, true),
          "message does not say '" .. case[k] .. "': " .. err)
      end
      if opts.position and not case.nopos then
        assert.is_truthy(err:find(opts.position), "message does not point at the caller: " .. err)
      end
      for _, mark in ipairs(marks) do
        assert.is_falsy(err:find(mark), "message leaks C++ details ('" .. mark .. "'): " .. err)
      end
      if max_len then
        assert.is_true(#err < max_len, "message too long: " .. err)
      end
    end)
  end
end
