-- Bad calls into clara.losses: every one must raise a Lua error whose
-- message names the loss and says what was wrong (with the shapes), points
-- at the caller's line (not into the library), and carries no C++ details.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_losses_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.

local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local L = require "clara.losses"

local function x43() return torch.randn(4, 3) end
local function y4() return torch.tensor { 0, 2, 1, 2 } end
local function p34() return torch.rand(3, 4) end
local function v(n) return torch.randn(n) end

-- { description, name the message must contain, what it must also contain
--   (a plain substring, case-insensitive), the bad call; nopos = true where
--   the error comes from a C function, which has no caller line to name }
local cases = {
  -- classification
  { "cross_entropy with float class targets", "cross_entropy", "target (4) holds float32 values; class indices need an integer tensor",
    function() local r = L.cross_entropy(x43(), torch.tensor { 0.0, 2.0, 1.0, 2.0 }) return r end },
  { "cross_entropy with a batch mismatch", "cross_entropy", "output (4, 3) needs target (4)",
    function() local r = L.cross_entropy(x43(), torch.tensor { 0, 1, 2, 1, 0 }) return r end },
  { "cross_entropy with a (N, 1) target", "cross_entropy", "got target (4, 1)",
    function() local r = L.cross_entropy(x43(), y4():view(4, 1)) return r end },
  { "cross_entropy of a 0-d output", "cross_entropy", "must have a class dim",
    function() local r = L.cross_entropy(torch.tensor(1.0), torch.tensor(0)) return r end },
  { "cross_entropy with a class too large", "cross_entropy", "target holds class 3, outside [0, 3)",
    function() local r = L.cross_entropy(x43(), torch.tensor { 0, 3, 1, 2 }) return r end },
  { "cross_entropy with a negative class", "cross_entropy", "target holds class -1, outside [0, 3)",
    function() local r = L.cross_entropy(x43(), torch.tensor { 0, -1, 1, 2 }) return r end },
  { "cross_entropy with too few class weights", "cross_entropy", "weight must be a 1-d tensor of 3 class weights",
    function() local r = L.cross_entropy(x43(), y4(), { weight = torch.ones(2) }) return r end },
  { "cross_entropy with integer class weights", "cross_entropy", "weight (3) must be floating point",
    function() local r = L.cross_entropy(x43(), y4(), { weight = torch.tensor { 1, 2, 3 } }) return r end },
  { "cross_entropy with a misspelt option", "cross_entropy", "unknown option 'weigth'",
    function() local r = L.cross_entropy(x43(), y4(), { weigth = torch.ones(3) }) return r end },
  { "cross_entropy with an unknown reduction", "cross_entropy", "reduction must be one of 'mean', 'sum', 'none', got 'avg'",
    function() local r = L.cross_entropy(x43(), y4(), { reduction = "avg" }) return r end },
  { "cross_entropy with label_smoothing above 1", "cross_entropy", "label_smoothing must be <= 1, got 1.5",
    function() local r = L.cross_entropy(x43(), y4(), { label_smoothing = 1.5 }) return r end },
  { "cross_entropy with a string label_smoothing", "cross_entropy", "label_smoothing must be a number",
    function() local r = L.cross_entropy(x43(), y4(), { label_smoothing = "0.1" }) return r end },
  { "cross_entropy with a fractional ignore_index", "cross_entropy", "ignore_index must be an integer",
    function() local r = L.cross_entropy(x43(), y4(), { ignore_index = 1.5 }) return r end },
  { "cross_entropy with probabilities and ignore_index", "cross_entropy", "ignore_index is not supported with probability targets",
    function() local r = L.cross_entropy(x43(), x43():softmax(2), { ignore_index = 0 }) return r end },
  { "cross_entropy of an integer output", "cross_entropy", "output (2, 2) must be floating point, got int64",
    function() local r = L.cross_entropy(torch.tensor { { 1, 2 }, { 3, 4 } }, torch.tensor { 0, 1 }) return r end },
  { "cross_entropy of nil", "cross_entropy", "output must be a tensor, got nil",
    function() local r = L.cross_entropy(nil, y4()) return r end },
  { "cross_entropy without a target", "cross_entropy", "target must be a tensor, got nil",
    function() local r = L.cross_entropy(x43()) return r end },
  { "cross_entropy with options not a table", "cross_entropy", "options must be a table, got 'sum'",
    function() local r = L.cross_entropy(x43(), y4(), "sum") return r end },
  { "cross_entropy with a bool target", "cross_entropy", "target (4) is bool",
    function() local r = L.cross_entropy(x43(), torch.tensor { true, false, true, true }) return r end },
  { "cross_entropy (N, C, d) with the wrong target", "cross_entropy", "output (2, 3, 5) needs target (2, 5)",
    function() local r = L.cross_entropy(torch.randn(2, 3, 5), torch.zeros(2, 3, { dtype = "int64" })) return r end },
  { "nll_loss with float targets", "nll_loss", "class indices need an integer tensor (target:long())",
    function() local r = L.nll(x43():log_softmax(2), torch.zeros(4)) return r end },
  { "nll_loss with a batch mismatch", "nll_loss", "output (4, 3) needs target (4) (the output without its class dim 2), got target (3)",
    function() local r = L.nll_loss(x43(), torch.tensor { 0, 1, 2 }) return r end },
  { "F.nll_loss with a class too large", "nll_loss", "outside [0, 3)",
    function() local r = torch.nn.functional.nll_loss(x43(), torch.tensor { 0, 1, 2, 7 }) return r end },

  { "ctc with float targets", "ctc_loss", "target (2, 3) must hold class indices (an integer tensor), got float32",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(2, 3)) return r end },
  { "ctc with a target batch mismatch", "ctc_loss", "target must be (N, S) with N = 2 (as output (5, 2, 4))",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(3, 2, { dtype = "int64" })) return r end },
  { "ctc of a 4-d output", "ctc_loss", "must have 2 or 3 dims, got (5, 2, 4, 1)",
    function() local r = L.ctc(torch.randn(5, 2, 4, 1), torch.ones(2, 3, { dtype = "int64" })) return r end },
  { "ctc with blank out of range", "ctc_loss", "blank 4 is not a class of output (5, 2, 4)",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(2, 3, { dtype = "int64" }), { blank = 4 }) return r end },
  { "ctc with a class out of range", "ctc_loss", "target holds class 9, outside [0, 4)",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.tensor { { 1, 9 }, { 1, 2 } }) return r end },
  { "ctc with input_lengths beyond T", "ctc_loss", "input_lengths must be in [0, 5]",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(2, 3, { dtype = "int64" }), { 6, 5 }, { 3, 3 }) return r end },
  { "ctc with one length too few", "ctc_loss", "input_lengths (1) must hold one length per sample (2)",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(2, 3, { dtype = "int64" }), { input_lengths = { 5 } }) return r end },
  { "ctc with fractional lengths", "ctc_loss", "target_lengths must hold integers, got 2.5",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(2, 3, { dtype = "int64" }), { 5, 5 }, { 2.5, 3 }) return r end },
  { "ctc with target_lengths beyond S", "ctc_loss", "target_lengths must be at most 3",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(2, 3, { dtype = "int64" }), { 5, 5 }, { 4, 3 }) return r end },
  { "ctc concatenated with a wrong total", "ctc_loss", "target_lengths sum to 5, but the concatenated target (4) holds 4",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(4, { dtype = "int64" }), { 5, 5 }, { 2, 3 }) return r end },
  { "ctc concatenated without lengths", "ctc_loss", "concatenated targets need target_lengths",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(4, { dtype = "int64" })) return r end },
  { "ctc with a misspelt option", "ctc_loss", "unknown option 'input_length'",
    function() local r = L.ctc(torch.randn(5, 2, 4), torch.ones(2, 3, { dtype = "int64" }), { input_length = { 5, 5 } }) return r end },
  -- the C function alone: libtorch's own check, from a C frame (no position)
  { "clara.losses.core.ctc of a 1-d input", "ctc_loss", "Expected 3-dimensional tensor", nopos = true,
    function()
      local i = torch.ones(1, { dtype = "int64" })
      local r = require("clara.losses.core").ctc(torch.randn(3), torch.ones(2, { dtype = "int64" }), i, i, 0)
      return r
    end },

  -- binary
  { "bce of raw scores", "binary_cross_entropy", "output must hold probabilities in [0, 1]",
    function() local r = L.bce(torch.tensor { -1.0, 0.5 }, torch.tensor { 0.0, 1.0 }) return r end },
  { "bce with int64 targets", "binary_cross_entropy", "target (3, 4) must be floating point",
    function() local r = L.bce(p34(), torch.zeros(3, 4, { dtype = "int64" })) return r end },
  { "bce with (N, 1) output and (N) target", "binary_cross_entropy", "output (4, 1) and target (4) must have the same shape",
    function() local r = L.bce(torch.rand(4, 1), torch.zeros(4)) return r end },
  { "bce with a weight that does not broadcast", "binary_cross_entropy", "weight (5) does not broadcast to the output's shape (3, 4)",
    function() local r = L.bce(p34(), p34(), { weight = torch.ones(5) }) return r end },
  { "bce_with_logits with a bad pos_weight", "binary_cross_entropy_with_logits", "pos_weight (3) does not broadcast",
    function() local r = L.bce_with_logits(p34(), p34(), { pos_weight = torch.ones(3) }) return r end },
  { "bce_with_logits with a table pos_weight", "binary_cross_entropy_with_logits", "pos_weight must be a tensor, got a table",
    function() local r = L.bce_with_logits(p34(), p34(), { pos_weight = { 1, 2, 3, 4 } }) return r end },
  { "bce_with_logits with shapes differing", "binary_cross_entropy_with_logits", "output (3, 4) and target (4, 3)",
    function() local r = L.bce_with_logits(p34(), torch.rand(4, 3)) return r end },
  { "soft_margin with shapes differing", "soft_margin_loss", "output (3) and target (4)",
    function() local r = L.soft_margin(v(3), v(4)) return r end },

  -- regression
  { "mse with (N, 1) output and (N) target", "mse_loss", "output (4, 1) and target (4) must have the same shape",
    function() local r = L.mse(torch.randn(4, 1), v(4)) return r end },
  { "mse with an int64 target", "mse_loss", "target (2) must be floating point, got int64",
    function() local r = L.mse(v(2), torch.tensor { 1, 2 }) return r end },
  { "l1 of a number", "l1_loss", "output must be a tensor, got number",
    function() local r = L.l1(3, v(2)) return r end },
  { "smooth_l1 with a negative beta", "smooth_l1_loss", "beta must be >= 0",
    function() local r = L.smooth_l1(v(2), v(2), { beta = -1 }) return r end },
  { "huber with delta 0", "huber_loss", "delta must be > 0",
    function() local r = L.huber(v(2), v(2), { delta = 0 }) return r end },
  { "huber with a misspelt option", "huber_loss", "unknown option 'beta' (did you mean 'delta'?)",
    function() local r = L.huber(v(2), v(2), { beta = 1 }) return r end },

  -- distributions
  { "kl_div with an unknown reduction", "kl_div", "'mean', 'batchmean', 'sum', 'none'",
    function() local r = L.kl_div(x43(), x43(), { reduction = "batch" }) return r end },
  { "kl_div with shapes differing", "kl_div", "output (4, 3) and target (3, 4)",
    function() local r = L.kl_div(x43(), p34()) return r end },
  { "mse with batchmean", "mse_loss", "reduction must be one of 'mean', 'sum', 'none', got 'batchmean'",
    function() local r = L.mse(v(2), v(2), { reduction = "batchmean" }) return r end },
  { "poisson_nll with a string log_input", "poisson_nll_loss", "log_input must be a boolean",
    function() local r = L.poisson_nll(v(2), v(2), { log_input = "yes" }) return r end },
  { "gaussian_nll with a var of the wrong shape", "gaussian_nll_loss", "var (3) must be shaped as the mean (4, 2)",
    function() local r = L.gaussian_nll(torch.randn(4, 2), torch.randn(4, 2), v(3)) return r end },
  { "gaussian_nll with a negative var", "gaussian_nll_loss", "var has negative entries",
    function() local r = L.gaussian_nll({ v(3), torch.tensor { 1.0, -1.0, 1.0 } }, v(3)) return r end },
  { "gaussian_nll with a list of 3", "gaussian_nll_loss", "list {mean, var} of 2 tensors, got 3",
    function() local r = L.gaussian_nll({ v(3), v(3), v(3) }, v(3)) return r end },

  -- embeddings and rankings
  { "margin_ranking with x1, x2 differing", "margin_ranking_loss", "x1 (3) and x2 (4) must have the same shape",
    function() local r = L.margin_ranking(v(3), v(4), v(3)) return r end },
  { "margin_ranking without a target", "margin_ranking_loss", "target must be a tensor, got nil",
    function() local r = L.margin_ranking({ v(3), v(3) }) return r end },
  { "margin_ranking of a string", "margin_ranking_loss", "output must be a list {x1, x2} of tensors, got string",
    function() local r = L.margin_ranking("x", v(3)) return r end },
  { "margin_ranking with a target of another length", "margin_ranking_loss", "x1 (3) and target (2)",
    function() local r = L.margin_ranking({ v(3), v(3) }, v(2)) return r end },
  { "hinge_embedding with shapes differing", "hinge_embedding_loss", "output (3) and target (2)",
    function() local r = L.hinge_embedding(v(3), v(2)) return r end },
  { "cosine_embedding with a 2-d target", "cosine_embedding_loss", "must be (N, D) with target (N), or (D) with target ()",
    function() local r = L.cosine_embedding(torch.randn(4, 3), torch.randn(4, 3), torch.ones(4, 1)) return r end },
  { "cosine_embedding with a batch mismatch", "cosine_embedding_loss", "got x1 (5, 3) and target (4)",
    function() local r = L.cosine_embedding(torch.randn(5, 3), torch.randn(5, 3), torch.ones(4)) return r end },
  { "cosine_embedding with x1, x2 differing", "cosine_embedding_loss", "x1 (4, 3) and x2 (4, 2)",
    function() local r = L.cosine_embedding({ torch.randn(4, 3), torch.randn(4, 2) }, torch.ones(4)) return r end },
  { "triplet_margin with a positive of another width", "triplet_margin_loss", "anchor (4, 3) and positive (4, 2)",
    function() local r = L.triplet_margin(torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 3)) return r end },
  { "triplet_margin of 3-d inputs", "triplet_margin_loss", "anchor must have 1 or 2 dims, got (2, 2, 2)",
    function() local t = torch.randn(2, 2, 2) local r = L.triplet_margin(t, t, t) return r end },
  { "triplet_margin with p = 0", "triplet_margin_loss", "p must be > 0",
    function() local t = x43() local r = L.triplet_margin({ t, t, t }, { p = 0 }) return r end },
  { "triplet_margin with a list of 2", "triplet_margin_loss", "{anchor, positive, negative} of 3 tensors, got 2",
    function() local t = x43() local r = L.triplet_margin({ t, t }) return r end },
  { "triplet_margin with a nil negative", "triplet_margin_loss", "negative must be a tensor, got nil",
    function() local t = x43() local r = L.triplet_margin(t, t) return r end },

  -- the index
  { "resolve an unknown name", "losses.resolve", "unknown loss 'crossentropy'",
    function() local r = L.resolve("crossentropy") return r end },
  { "resolve a number", "losses.resolve", "unknown loss 3;",
    function() local r = L.resolve(3) return r end },
  { "describe an unknown name", "losses.describe", "unknown loss or kind 'foo'",
    function() local r = L.describe("foo") return r end },
}

describe("bad calls to losses", function()
  it("are at least 50", function()
    assert.is_true(#cases >= 50, "only " .. #cases .. " cases")
  end)

  -- the calls are not tail calls (`local r = f() return r`): a tail call
  -- leaves no frame of the caller for the message to point at
  badcalls(cases, { position = "^spec/badcalls_losses_spec%.lua:%d+: " })
end)
