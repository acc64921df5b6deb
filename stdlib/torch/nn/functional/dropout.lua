-- nn.functional's dropout family, as PyTorch 1.13's: the same ATen
-- operators drawing from the same generator, so torch.manual_seed(s)
-- gives PyTorch's masks bit for bit.  training defaults as PyTorch's
-- (true for dropout and dropoutNd, false for the alpha ones).
local A = require "torch.nn.functional.args"

local aten, call, define = A.aten, A.call, A.define
local F = {}

local function params(training)
  return { A.INPUT, { "p", A.number(0.5, 0, 1) }, { "training", A.bool(training) }, A.INPLACE }
end

local function plain(name, op, training)
  F[name] = define(name, params(training), function(api, a)
    return call(api, a.inplace and aten[op .. "_"] or aten[op], a.input, a.p, a.training)
  end)
end
plain("dropout", "dropout", true)
plain("alpha_dropout", "alpha_dropout", false)
plain("feature_alpha_dropout", "feature_alpha_dropout", false)

-- whole channels dropped: `batched` is the rank with a batch dim, the
-- rank below it is one sample (a batch of one for feature_dropout)
local function channels(name, batched, unbatched_ok)
  F[name] = define(name, params(true), function(api, a)
    local x = a.input
    local rank = A.rank(api, x, batched - 1, batched)
    local op = a.inplace and aten.feature_dropout_ or aten.feature_dropout
    if rank == batched or not unbatched_ok then return call(api, op, x, a.p, a.training) end
    if a.inplace then
      call(api, op, x:unsqueeze(1), a.p, a.training)
      return x
    end
    return call(api, op, x:unsqueeze(1), a.p, a.training):squeeze(1)
  end)
end
channels("dropout1d", 3, true)
-- PyTorch 1.13 reads a 3D input to dropout2d as (N, C, L), not as one sample
channels("dropout2d", 4, false)
channels("dropout3d", 5, true)

return F
