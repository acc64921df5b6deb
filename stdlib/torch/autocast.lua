-- torch.autocast(device, opts, fn, ...): fn(...) under libtorch's autocast,
-- as PyTorch's `with torch.autocast("cpu", dtype=torch.bfloat16):`; fn's
-- results are returned, and the previous autocast state comes back even
-- when fn raises.  opts (may be omitted): dtype = "bfloat16" (the only
-- dtype CPU autocast has in PyTorch 1.13), enabled = true.  Inside, the
-- ops on autocast's lists run in bfloat16 (matmul, linear, conv, ...) and
-- the ones that need range in float32 (losses, reductions, softmax).
-- torch.is_autocast_cpu_enabled() tells whether it is on.  The weight
-- casts are cached inside the region (PyTorch's default cache_enabled).
local torch = require "torch"
local E = require "clara.error"

local API = "torch.autocast"

local OPTIONS = {
  dtype = { type = "string", enum = { "bfloat16" }, default = "bfloat16",
            doc = "the lower precision (CPU autocast has bfloat16 only)" },
  enabled = { type = "boolean", default = true, doc = "false: fn runs with autocast off" },
}

return function(device, opts, fn, ...)
  if type(opts) == "function" then return torch.autocast(device, nil, opts, fn, ...) end
  if device ~= "cpu" then
    E.raise(API, "device must be 'cpu' (this libtorch has no CUDA autocast), got %s", E.show(device))
  end
  local o = E.options(API, opts, OPTIONS)
  if type(fn) ~= "function" then E.raise(API, "expected a function to run, got %s", E.show(fn)) end
  return torch._autocast_cpu(o.enabled, o.dtype, fn, ...)
end
