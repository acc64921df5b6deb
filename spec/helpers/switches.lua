-- What spec/train_clip_spec.lua, train_precision_spec.lua and
-- train_average_spec.lua share: the PyTorch fixture (spec/fixtures/
-- switches.lua, tests/fixtures/make_switches.py), an experiment that trains
-- a fixture case as its PyTorch loop did (same start, data in order, SGD
-- with momentum 0.9, cross_entropy), comparisons, and a crash hook.
--   local H = dofile("spec/helpers/switches.lua")
local P = require "spec.helpers.parity"
local H = {}

H.fixture = dofile("spec/fixtures/switches.lua")
H.T, H.expect_error = P.T, P.expect_error

function H.state(sd)
  local t = {}
  for k, v in pairs(sd) do t[k] = H.T(v) end
  return t
end

function H.case(name)
  for _, c in ipairs(H.fixture.cases) do if c.name == name then return c end end
  error("no fixture case " .. name)
end

local X, Y = H.T(H.fixture.x), H.T(H.fixture.y)
H.X, H.Y = X, Y

-- the experiment that trains case (over: fields changed or added)
function H.experiment(case, over)
  local spec = {
    name = "sw_" .. case.name,
    data = { train = { X, Y }, val = { X, Y } },
    model = function()
      local m = assert(load("return " .. case.model, "=model", "t", _ENV))()
      m:load_state_dict(H.state(case.start))
      return m
    end,
    objective = clara.losses.cross_entropy,
    optimizer = function(m) return optim.SGD(m:parameters(), { lr = case.lr, momentum = 0.9 }) end,
    epochs = case.epochs, batch_size = H.fixture.batch_size, accumulate = case.accumulate, shuffle = false,
    keep_best = false, train_metrics = false, verbose = false, out_dir = false, seed = 1,
  }
  for k, v in pairs(over or {}) do spec[k] = v end
  return clara.experiment(spec)
end

-- every tensor of a state_dict against expected ones (bitwise, or within
-- rtol when given)
function H.assert_state(expected, got, what, rtol)
  local n = 0
  for k, e in pairs(expected) do
    n = n + 1
    local g = got[k]
    assert(g ~= nil, what .. ": no " .. k)
    local ok
    if rtol and e.dtype == "float32" then ok = torch.allclose(g, e, { rtol = rtol, atol = rtol / 10 })
    else ok = torch.equal(g, e) end
    assert(ok, ("%s: %s differs\nexpected %s\ngot %s"):format(what, k, tostring(e), tostring(g)))
  end
  assert(n > 0, what .. ": an empty state")
end

function H.assert_same_weights(a, b, what)
  H.assert_state(a:state_dict(), b:state_dict(), what)
end

-- an on_step_end hook that raises at step k (the last checkpoint is before it)
function H.crash_at(k)
  return { on_step_end = function(ctx) if ctx.step == k then error("crash at step " .. k, 0) end end }
end

return H
