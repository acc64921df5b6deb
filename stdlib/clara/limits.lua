-- clara.limits: the library's limits, one named value each.  They bound
-- what a file, an options table or a count may make clara allocate, so a
-- hostile or mistaken input stops with an error naming the limit instead
-- of exhausting memory.  Each may be raised (or lowered) by assignment:
--   clara.limits.table_elements = 1 << 30
-- An error that hits one names it: "... over the limit clara.limits.NAME".
-- the machine's memory in bytes (MemTotal), or 1 TiB where unreadable
local function memory_bytes()
  local f = io.open("/proc/meminfo", "r")
  local kb = f and f:read("a"):match("MemTotal:%s*(%d+)")
  if f then f:close() end
  return kb and math.tointeger(tonumber(kb) * 1024) or (1 << 40)
end

local limits = {
  -- elements of a Lua table built from a user count (folds, indices,
  -- confusion matrix cells, partitions)
  table_elements = 1 << 27,
  -- bytes of one tensor made from a user count (torch.zeros(n), repeat,
  -- arange, an nn module's weights): the machine's memory, since a larger
  -- one could only end in the OOM killer (requests under 1 MiB are not checked)
  tensor_bytes = memory_bytes(),
  -- nesting of brackets, indented blocks and prefix operators (- - x,
  -- not not b, x ** y ** z) in TorchScript source (torch.jit.compile, a
  -- torch.jit.load archive's code/): libtorch's recursive-descent parser
  -- overflows the stack a few thousand levels down (raise with care)
  script_depth = 200,
  -- operators, calls and subscripts in one TorchScript statement (the same
  -- sources): the compiler recurses once per term of `x + x + ... + x`
  script_terms = 5000,
  -- bytes of a libtorch message that reach the user; the rest is cut
  message_bytes = 4096,
  -- nesting of lists, tuples, dicts and objects in a pickle (torch.load,
  -- torch.jit.load's data.pkl): deeper values would overflow the C stack
  -- of the code that converts or frees them (keep it under ~10000)
  pickle_depth = 1000,
  -- bytes an .npz archive may inflate to, all members together
  npz_bytes = 16 << 30,
  -- width * height of one decoded image (clara.data.read_image,
  -- ImageFolder): PIL's decompression-bomb error threshold, checked on the
  -- header before any pixel is allocated
  image_pixels = 178956970,
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
