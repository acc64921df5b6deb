-- torch.optim.clear.LBFGS: libtorch 1.13's L-BFGS (with its optional
-- strong-Wolfe line search) written out in Lua, step by step as its C++
-- does it: scalars (t, losses, directional derivatives) are doubles read
-- from tensors, vectors are flat float tensors over all parameters.  Its
-- state is kept under the first parameter, as libtorch and PyTorch keep it,
-- and shows in state_dict() in libtorch's layout (histories stacked), so a
-- state dict moves between optim.LBFGS and this twin.
local torch = require "torch"
local base = require "torch.optim.base"
local clear = require "torch.optim.clear"
local E = require "clara.error"
local kinds = require("torch.optim").kinds

local aten = torch.ops.aten

local function val(t) return t:item() end

-- {======================================================
-- Flat vectors over the parameters
-- =======================================================

local function gather_flat_grad(params)
  local views = {}
  for i, p in ipairs(params) do
    local g = p.grad
    views[i] = g and g:view(-1) or torch.zeros(p:numel(), { dtype = p.dtype })
  end
  return torch.cat(views)
end

-- p = p + step_size * (p's slice of update)
local function add_grad(params, step_size, update)
  local offset = 0
  for _, p in ipairs(params) do
    local n = p:numel()
    p:add_(aten.slice(update, 0, offset, offset + n):view(p:size()), step_size)
    offset = offset + n
  end
end

local function clone_params(params)
  local x = {}
  for i, p in ipairs(params) do x[i] = p:detach():clone() end
  return x
end

-- the loss and flat gradient at x + t d; the parameters are put back to x
local function directional_evaluate(params, closure, x, t, d)
  add_grad(params, t, d)
  local loss = val(closure())
  local flat_grad = gather_flat_grad(params)
  for i, p in ipairs(params) do p:copy_(x[i]) end
  return loss, flat_grad
end

-- }======================================================

-- {======================================================
-- The strong-Wolfe line search (minFunc's, as libtorch ports it)
-- =======================================================

-- the minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), within bounds
local function cubic_interpolate(x1, f1, g1, x2, f2, g2, lo, hi)
  if lo == nil then
    if x1 <= x2 then lo, hi = x1, x2 else lo, hi = x2, x1 end
  end
  local d1 = (g1 + g2) - (3 * (f1 - f2) / (x1 - x2))
  local d2_square = d1 ^ 2 - g1 * g2
  if d2_square >= 0 then
    local d2 = math.sqrt(d2_square)
    local min_pos
    if x1 <= x2 then
      min_pos = x2 - ((x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)))
    else
      min_pos = x1 - ((x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)))
    end
    return math.min(math.max(min_pos, lo), hi)
  end
  return (lo + hi) / 2
end

-- the search's own constants: libtorch and PyTorch call it with these
-- defaults (its tolerance_change is not the group's)
local C1, C2, MAX_LS, TOLERANCE_CHANGE = 1e-4, 0.9, 25, 1e-9

-- a point (position, loss, flat gradient, directional derivative) of the search
local function point(t, f, g, gtd) return { t = t, f = f, g = g, gtd = gtd } end

-- phase 1: from step t along d, a bracket around a point satisfying the
-- Wolfe conditions, or that point (done)
local function bracket_phase(obj, t, d, f, g, gtd)
  local f_new, g_new = obj(t)
  local evals = 1
  local gtd_new = val(g_new:dot(d))
  local prev = point(0, f, g, gtd)
  local ls_iter = 0
  while ls_iter < MAX_LS do
    if f_new > f + C1 * t * gtd or (ls_iter > 1 and f_new >= prev.f) then
      return { prev, point(t, f_new, g_new:clone(), gtd_new) }, false, ls_iter, evals
    end
    if math.abs(gtd_new) <= -C2 * gtd then
      return { point(t, f_new, g_new, gtd_new) }, true, ls_iter, evals
    end
    if gtd_new >= 0 then
      return { prev, point(t, f_new, g_new:clone(), gtd_new) }, false, ls_iter, evals
    end
    local min_step, max_step = t + 0.01 * (t - prev.t), t * 10
    local tmp = t
    t = cubic_interpolate(prev.t, prev.f, prev.gtd, t, f_new, gtd_new, min_step, max_step)
    prev = point(tmp, f_new, g_new:clone(), gtd_new)
    f_new, g_new = obj(t)
    evals = evals + 1
    gtd_new = val(g_new:dot(d))
    ls_iter = ls_iter + 1
  end
  return { point(0, f, g, nil), point(t, f_new, g_new, gtd_new) }, false, ls_iter, evals
end

-- returns the loss, flat gradient and step at the point found, and the evaluations
local function strong_wolfe(obj, t, d, f, g, gtd)
  local d_norm = val(d:abs():max())
  local bracket, done, ls_iter, evals = bracket_phase(obj, t, d, f, g:clone(), gtd)
  -- phase 2 (zoom): shrink the bracket until a point satisfies the conditions
  local low, high = 1, 2
  if bracket[1].f > bracket[#bracket].f then low, high = 2, 1 end
  local insuf_progress = false
  while not done and ls_iter < MAX_LS do
    local a, b = bracket[1], bracket[2]
    if math.abs(b.t - a.t) * d_norm < TOLERANCE_CHANGE then break end
    t = cubic_interpolate(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
    -- too close to an end: move to 0.1 of the bracket away from it
    local tmax, tmin = math.max(a.t, b.t), math.min(a.t, b.t)
    local eps = 0.1 * (tmax - tmin)
    if math.min(tmax - t, t - tmin) < eps then
      if insuf_progress or t >= tmax or t <= tmin then
        if math.abs(t - tmax) < math.abs(t - tmin) then t = tmax - eps else t = tmin + eps end
        insuf_progress = false
      else
        insuf_progress = true
      end
    else
      insuf_progress = false
    end
    local f_new, g_new = obj(t)
    evals = evals + 1
    local gtd_new = val(g_new:dot(d))
    ls_iter = ls_iter + 1
    if f_new > f + C1 * t * gtd or f_new >= bracket[low].f then
      -- Armijo condition not met, or not below the lowest point
      bracket[high] = point(t, f_new, g_new:clone(), gtd_new)
      if bracket[1].f <= bracket[2].f then low, high = 1, 2 else low, high = 2, 1 end
    else
      if math.abs(gtd_new) <= -C2 * gtd then
        done = true
      elseif gtd_new * (bracket[high].t - bracket[low].t) >= 0 then
        bracket[high] = bracket[low] -- the old high becomes the new low
      end
      bracket[low] = point(t, f_new, g_new:clone(), gtd_new)
    end
  end
  local best = bracket[low]
  return best.f, best.g, best.t, evals
end

-- }======================================================

-- {======================================================
-- The step
-- =======================================================

-- the L-BFGS direction from the gradient and the stored pairs (two loops)
local function direction(s, flat_grad)
  local q = flat_grad:neg()
  local al = {}
  for i = #s.old_dirs, 1, -1 do
    al[i] = s.old_stps[i]:dot(q) * s.ro[i]
    q:add_(s.old_dirs[i], -val(al[i]))
  end
  local r = q * s.H_diag
  for i = 1, #s.old_dirs do
    local be_i = s.old_dirs[i]:dot(r) * s.ro[i]
    r:add_(s.old_stps[i], val(al[i] - be_i))
  end
  return r
end

-- remember the pair (y, s) when its curvature is positive
local function update_memory(s, group, flat_grad)
  local y = flat_grad:sub(s.prev_flat_grad)
  local step = s.d:mul(s.t)
  local ys = y:dot(step)
  if val(ys) > 1e-10 then
    if #s.old_dirs == group.history_size then
      table.remove(s.old_dirs, 1)
      table.remove(s.old_stps, 1)
      table.remove(s.ro, 1)
    end
    s.old_dirs[#s.old_dirs + 1] = y
    s.old_stps[#s.old_stps + 1] = step
    s.ro[#s.ro + 1] = ys:reciprocal()
    s.H_diag = ys / y:dot(y)
  end
end

local function lbfgs_step(self, closure)
  local group = self.param_groups[1]
  local params = group.params
  local s = self.state[1] or { func_evals = 0, n_iter = 0 }
  self.state[1] = s
  local function evaluate() return torch.enable_grad(closure) end
  local orig_loss = evaluate()
  if not torch.is_tensor(orig_loss) then
    E.raise("optim.clear.LBFGS:step", "closure must return the loss tensor, got %s", type(orig_loss))
  end
  local loss = val(orig_loss)
  local current_evals = 1
  s.func_evals = s.func_evals + 1
  local flat_grad = gather_flat_grad(params)
  if val(flat_grad:abs():max()) <= group.tolerance_grad then return orig_loss end
  local opt_cond
  local n_iter = 0
  while n_iter < group.max_iter do
    n_iter = n_iter + 1
    s.n_iter = s.n_iter + 1
    -- 1. the direction: steepest descent first, then L-BFGS
    if s.n_iter == 1 then
      s.d = flat_grad:neg()
      s.old_dirs, s.old_stps, s.ro = {}, {}, {}
      s.H_diag = torch.tensor(1)
    else
      update_memory(s, group, flat_grad)
      s.d = direction(s, flat_grad)
    end
    if s.prev_flat_grad == nil then s.prev_flat_grad = flat_grad:clone() else s.prev_flat_grad:copy_(flat_grad) end
    s.prev_loss = loss
    -- 2. the step length: bounded by the gradient's size at first
    if s.n_iter == 1 then
      s.t = math.min(1, 1 / val(flat_grad:abs():sum())) * group.lr
    else
      s.t = group.lr
    end
    local gtd = val(flat_grad:dot(s.d))
    if gtd > -group.tolerance_change then break end
    -- 3. move: along a line search, or by the fixed step
    local ls_func_evals = 0
    if group.line_search_fn ~= nil then
      local x_init = clone_params(params)
      local function obj(t) return directional_evaluate(params, evaluate, x_init, t, s.d) end
      loss, flat_grad, s.t, ls_func_evals = strong_wolfe(obj, s.t, s.d, loss, flat_grad, gtd)
      add_grad(params, s.t, s.d)
      opt_cond = val(flat_grad:abs():max()) <= group.tolerance_grad
    else
      add_grad(params, s.t, s.d)
      if n_iter ~= group.max_iter then
        loss = val(evaluate())
        flat_grad = gather_flat_grad(params)
        opt_cond = val(flat_grad:abs():max()) <= group.tolerance_grad
        ls_func_evals = 1
      end
    end
    current_evals = current_evals + ls_func_evals
    s.func_evals = s.func_evals + ls_func_evals
    -- 4. stop: out of iterations or evaluations, optimal, or no progress
    if n_iter == group.max_iter or current_evals >= group.max_eval or opt_cond then break end
    if val(s.d:mul(s.t):abs():max()) <= group.tolerance_change then break end
    if math.abs(loss - s.prev_loss) < group.tolerance_change then break end
  end
  return orig_loss
end

-- }======================================================

-- {======================================================
-- The class: state in libtorch's layout
-- =======================================================

local LISTS = { old_dirs = true, old_stps = true, ro = true }

local function stacked(list, like)
  if #list == 0 then return torch.empty(0, { dtype = like.dtype }) end
  local copies = {}
  for i, v in ipairs(list) do copies[i] = v:detach():clone() end
  return torch.stack(copies)
end

local function unstacked(v)
  local list = {}
  for i = 1, v:numel() > 0 and v:size(1) or 0 do list[i] = v:select(1, i):clone() end
  return list
end

local methods = {}

function methods:step(closure)
  if type(closure) ~= "function" then
    E.raise("optim.clear.LBFGS:step", "LBFGS requires a closure (a function that zeroes the gradients, computes the loss, calls backward and returns the loss), got %s", type(closure))
  end
  return torch.no_grad(function() return lbfgs_step(self, closure) end)
end

function methods:get_param_state(g, i)
  local s = self.state[self:position(g, i)]
  if s == nil then return nil end
  local out = {}
  for name, v in pairs(s) do
    if LISTS[name] then
      out[name] = stacked(v, self.param_groups[1].params[1])
    else
      out[name] = base.copy_value(v)
    end
  end
  return out
end

function methods:set_param_state(g, i, entries)
  local k = self:position(g, i)
  if entries == nil then
    self.state[k] = nil
    return
  end
  local s = {}
  for name, v in pairs(entries) do
    if LISTS[name] then s[name] = unstacked(v) else s[name] = base.copy_value(v) end
  end
  self.state[k] = s
end

local ctor = clear.make(kinds.LBFGS, nil, nil, methods)
clear.LBFGS = function(params, opts)
  local self = ctor(params, opts)
  if #self.param_groups ~= 1 then
    E.raise("optim.clear.LBFGS", "LBFGS doesn't support per-parameter options (parameter groups)")
  end
  return self
end

return clear.LBFGS
