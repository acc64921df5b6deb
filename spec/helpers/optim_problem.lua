-- What the optimizer specs share (spec/optim_spec.lua, spec/optim_parity_spec.lua):
-- the fixed problem of a fixture (W, b, X, Y written by tests/fixtures/
-- make_optim*.py), fresh parameters, its loss, an optimizer built with the
-- parameter groups a case names, and the largest difference of two tensors.
--   local O = dofile("spec/helpers/optim_problem.lua")(fx.problem)
local torch = require "torch"

return function(P)
  local X, Y = torch.tensor(P.X), torch.tensor(P.Y)
  local O = {}

  function O.fresh(dtype)
    local o = { dtype = dtype or "float32", requires_grad = true }
    return torch.tensor(P.W, o), torch.tensor(P.b, o)
  end

  function O.loss_of(W, b)
    local x, y = X:to(W.dtype), Y:to(W.dtype)
    return (x:matmul(W):tanh() + b - y):pow(2):mean()
  end

  -- the options of a case, with the parameter groups it names
  function O.build(ctor, case, W, b)
    if case.group_opts then
      local g1, g2 = { params = { W } }, { params = { b } }
      for k, v in pairs(case.group_opts[1]) do g1[k] = v end
      for k, v in pairs(case.group_opts[2]) do g2[k] = v end
      return ctor({ g1, g2 }, case.opts)
    end
    return ctor({ W, b }, case.opts)
  end

  function O.maxdiff(a, b) return (a:detach() - b:detach()):abs():max():item() end

  return O
end
