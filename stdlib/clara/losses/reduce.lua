-- The reduction every loss applies last, as PyTorch's `reduction` argument:
-- 'mean' (the default) averages the per-element losses, 'sum' adds them,
-- 'none' returns them.  Losses with class weights (nll_loss, cross_entropy)
-- divide by the sum of the weights instead; kl_div adds 'batchmean'.
return function(loss, reduction)
  if reduction == "none" then return loss end
  if reduction == "sum" then return loss:sum() end
  return loss:mean()
end
