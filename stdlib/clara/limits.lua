-- clara.limits: the library's limits, one named value each.  They bound
-- what a file, an options table or a count may make clara allocate, so a
-- hostile or mistaken input stops with an error naming the limit instead
-- of exhausting memory.  Each may be raised (or lowered) by assignment:
--   clara.limits.table_elements = 1 << 30
-- An error that hits one names it: "... over the limit clara.limits.NAME".
local limits = {
  -- elements of a Lua table built from a user count (folds, indices,
  -- confusion matrix cells, partitions)
  table_elements = 1 << 27,
  -- nesting of lists, tuples, dicts and objects in a pickle (torch.load,
  -- torch.jit.load's data.pkl): deeper values would overflow the C stack
  -- of the code that converts or frees them (keep it under ~10000)
  pickle_depth = 1000,
  -- nesting of brackets, blocks and prefix operators in TorchScript source
  -- (a torch.jit.load archive's code/): libtorch's parser recurses per level
  code_depth = 200,
  -- bytes an .npz archive may inflate to, all members together
  npz_bytes = 16 << 30,
}

local E = require "clara.error"
return setmetatable(limits, {
  __newindex = function(_, k) E.raise("clara.limits", "there is no limit named %s", k) end,
  __index = function(_, k)
    local names = {}
    for n in pairs(limits) do names[#names + 1] = n end
    local near = type(k) == "string" and E.closest(k, names)
    E.raise("clara.limits", "there is no limit named %s%s", k, near and (" (did you mean '" .. near .. "'?)") or "")
  end,
})
