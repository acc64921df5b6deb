-- Autograd from Lua: the switches (requires_grad, no_grad, retain_graph,
-- retain_grad, detach), the graph's shape (is_leaf, grad_fn), and gradients
-- of losses written in Lua from tensor ops, checked against gradients derived
-- by hand and, for an MLP, against finite differences.  float64 throughout
-- where tolerances are tight.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/autograd_spec.lua

local torch = require "torch"

local F64 = { dtype = "float64" }
local function param(t) return t:requires_grad_() end

-- largest absolute difference between two tensors (or a tensor and a table)
local function maxdiff(a, b)
  if type(b) == "table" then b = torch.tensor(b, { dtype = a.dtype }) end
  return (a:detach() - b:detach()):abs():max():item()
end

local function assert_close(a, b, tol, what)
  local d = maxdiff(a, b)
  assert(d <= (tol or 1e-12), ("%s: max difference %g above %g"):format(what or "tensors", d, tol or 1e-12))
end

describe("autograd", function()
  before_each(function() torch.manual_seed(1234) end)

  describe("switches", function()
    it("requires_grad as an option, a method and a property", function()
      assert.is_false(torch.zeros(2).requires_grad)
      assert.is_true(torch.zeros(2, { requires_grad = true }).requires_grad)
      assert.is_true(torch.randn(2, 3, { requires_grad = true, dtype = "float64" }).requires_grad)
      assert.is_true(torch.tensor({ 1.0, 2.0 }, { requires_grad = true }).requires_grad)
      local t = torch.zeros(2)
      assert.equal(t, t:requires_grad_()) -- returns itself, for chaining
      assert.is_true(t.requires_grad)
      t:requires_grad_(false)
      assert.is_false(t.requires_grad)
      t.requires_grad = true
      assert.is_true(t.requires_grad)
    end)

    it("backward() fills x.grad, which starts as nil", function()
      local x = torch.tensor({ 1.0, -2.0, 3.0 }, { dtype = "float64", requires_grad = true })
      assert.is_nil(x.grad)
      local y = (x * x):sum()
      y:backward()
      assert.same({ 2.0, -4.0, 6.0 }, x.grad:totable())
      assert.equal("float64", x.grad.dtype)
      assert.is_false(x.grad.requires_grad)
    end)

    it("backward(grad) of a non-scalar is a vector-Jacobian product", function()
      local x = torch.tensor({ 1.0, 2.0, 3.0 }, { dtype = "float64", requires_grad = true })
      local y = x * x * 3 -- dy_i/dx_i = 6 x_i
      y:backward(torch.tensor({ 1.0, 0.5, -1.0 }, F64))
      assert.same({ 6.0, 6.0, -18.0 }, x.grad:totable())
      -- a grad and options together
      local x2 = torch.tensor({ 1.0, 2.0 }, { dtype = "float64", requires_grad = true })
      local y2 = x2 * 2
      y2:backward(torch.ones(2, F64), { retain_graph = true })
      y2:backward(torch.ones(2, F64))
      assert.same({ 4.0, 4.0 }, x2.grad:totable())
    end)

    it("gradients accumulate; x.grad = nil clears them", function()
      local x = torch.tensor({ 1.0, 2.0 }, { dtype = "float64", requires_grad = true })
      x:sum():backward()
      ;(x * 3):sum():backward()
      assert.same({ 4.0, 4.0 }, x.grad:totable())
      x.grad = nil
      assert.is_nil(x.grad)
      ;(x * x):sum():backward()
      assert.same({ 2.0, 4.0 }, x.grad:totable())
      -- x.grad can be set, as in PyTorch
      x.grad = torch.tensor({ 10.0, 20.0 }, F64)
      x:sum():backward()
      assert.same({ 11.0, 21.0 }, x.grad:totable())
    end)

    it("x.grad is the accumulated gradient, not a stale copy", function()
      local x = torch.tensor({ 1.0 }, { dtype = "float64", requires_grad = true })
      x:sum():backward()
      local g = x.grad
      x:sum():backward()
      assert.same({ 2.0 }, x.grad:totable())
      assert.same({ 2.0 }, g:totable()) -- accumulated in place, like PyTorch
    end)

    it("detach() cuts the graph but shares storage", function()
      local x = torch.tensor({ 1.0, 2.0, 3.0 }, { dtype = "float64", requires_grad = true })
      local d = x:detach()
      assert.is_false(d.requires_grad)
      assert.is_true(d.is_leaf)
      assert.is_nil(d.grad_fn)
      -- x * stop_gradient(x): the gradient is x, not 2x
      local y = (x * x:detach()):sum()
      y:backward()
      assert.same({ 1.0, 2.0, 3.0 }, x.grad:totable())
      -- same storage: a write through the detached view shows in x
      d[1] = 7
      assert.equal(7, x[1]:item())
      -- .data is the same kind of view
      assert.is_false(x.data.requires_grad)
    end)

    it("torch.no_grad(fn) returns fn's results and records nothing", function()
      local x = torch.ones(2, { requires_grad = true })
      assert.is_true(torch.is_grad_enabled())
      local a, b, c = torch.no_grad(function(k)
        assert.is_false(torch.is_grad_enabled())
        return x * k, "second", nil
      end, 3)
      assert.is_false(a.requires_grad)
      assert.is_nil(a.grad_fn)
      assert.same({ 3.0, 3.0 }, a:totable())
      assert.equal("second", b)
      assert.is_nil(c)
      assert.is_true(torch.is_grad_enabled())
      assert.is_true((x * 3).requires_grad)
    end)

    it("torch.no_grad(fn) restores grad mode when fn errors, and passes the error on", function()
      local ok, err = pcall(torch.no_grad, function() error("boom inside no_grad") end)
      assert.is_false(ok)
      assert.matches("boom inside no_grad", err)
      assert.is_true(torch.is_grad_enabled())
      -- a tensor error raised inside, too
      ok, err = pcall(torch.no_grad, function() return torch.zeros(2):matmul(torch.zeros(3)) end)
      assert.is_false(ok)
      assert.matches("matmul", err)
      assert.is_true(torch.is_grad_enabled())
      -- an error value that is not a string survives intact
      local e = {}
      ok, err = pcall(torch.no_grad, function() error(e) end)
      assert.equal(e, err)
      assert.is_true(torch.is_grad_enabled())
    end)

    it("no_grad and enable_grad nest", function()
      local x = torch.ones(2, { requires_grad = true })
      local inner, after = torch.no_grad(function()
        local inner = torch.enable_grad(function() return x * 2 end)
        return inner, x * 2
      end)
      assert.is_true(inner.requires_grad)
      assert.is_false(after.requires_grad)
      assert.is_true(torch.is_grad_enabled())
      assert.is_true(torch.set_grad_enabled(false)) -- returns the previous mode
      assert.is_false((x * 2).requires_grad)
      assert.is_false(torch.set_grad_enabled(true))
      assert.is_true((x * 2).requires_grad)
    end)

    it("retain_graph = true lets backward run twice, accumulating", function()
      local x = torch.tensor({ 1.0, 2.0 }, { dtype = "float64", requires_grad = true })
      local loss = (x * x):sum() -- saves x for the backward of mul
      loss:backward({ retain_graph = true })
      loss:backward({ retain_graph = true })
      assert.same({ 4.0, 8.0 }, x.grad:totable())
      loss:backward() -- the last one may free the graph
      assert.same({ 6.0, 12.0 }, x.grad:totable())
      -- positional form, as in PyTorch's backward(gradient, retain_graph)
      local y = (x * x):sum()
      y:backward(torch.tensor(1.0, F64), true)
      assert.is_false(x.grad.requires_grad) -- retain_graph only, no create_graph
      y:backward()
      assert.same({ 10.0, 20.0 }, x.grad:totable())
    end)

    it("a second backward without retain_graph errors clearly", function()
      local x = torch.tensor({ 1.0, 2.0 }, { dtype = "float64", requires_grad = true })
      local loss = (x * x):sum()
      loss:backward()
      local ok, err = pcall(loss.backward, loss)
      assert.is_false(ok)
      assert.matches("backward", err)
      assert.matches("second time", err)
      assert.matches("retain_graph", err)
      assert.is_falsy(err:find("Exception raised from", 1, true))
      assert.same({ 2.0, 4.0 }, x.grad:totable()) -- untouched by the failed call
    end)

    it("is_leaf", function()
      local x = torch.ones(2, { requires_grad = true })
      local c = torch.ones(2)
      assert.is_true(x.is_leaf)
      assert.is_true(c.is_leaf) -- no grad: a leaf by convention
      assert.is_false((x * 2).is_leaf)
      assert.is_true((c * 2).is_leaf) -- nothing recorded
      assert.is_true(x:detach().is_leaf)
      assert.is_true(torch.no_grad(function() return x * 2 end).is_leaf)
    end)

    it("grad_fn names the backward node, nil on leaves", function()
      local x = torch.randn(3, { requires_grad = true })
      local m = torch.randn(2, 2, { requires_grad = true })
      assert.is_nil(x.grad_fn)
      assert.is_nil(torch.ones(2).grad_fn)
      local cases = {
        { x + 1, "AddBackward0" }, { x - 1, "SubBackward0" }, { x * 2, "MulBackward0" },
        { x / 2, "DivBackward0" }, { -x, "NegBackward0" }, { x:sum(), "SumBackward0" },
        { x:mean(), "MeanBackward0" }, { x:exp(), "ExpBackward0" }, { x:sigmoid(), "SigmoidBackward0" },
        { x:tanh(), "TanhBackward0" }, { x:relu(), "ReluBackward0" }, { m:matmul(m), "MmBackward0" },
        { x:matmul(x), "DotBackward0" }, { x:view(3, 1), "ViewBackward0" }, { m:t(), "TBackward0" },
        { torch.cat { x, x }, "CatBackward0" }, { x:log_softmax(1), "LogSoftmaxBackward0" },
        { x[{ { 1, 2 } }], "SliceBackward0" }, { x[1], "SelectBackward0" },
      }
      for _, c in ipairs(cases) do assert.equal(c[2], c[1].grad_fn) end
      assert.is_truthy((x ^ 2).grad_fn:match("^PowBackward"))
    end)

    it("retain_grad() keeps the gradient of a non-leaf", function()
      local x = torch.tensor({ 1.0, 2.0, 3.0 }, { dtype = "float64", requires_grad = true })
      local h = x * 3
      assert.equal(h, h:retain_grad()) -- returns itself
      local y = (h * h):sum() -- dy/dh = 2h = 6x; dy/dx = 18x
      y:backward()
      assert.same({ 6.0, 12.0, 18.0 }, h.grad:totable())
      assert.same({ 18.0, 36.0, 54.0 }, x.grad:totable())
    end)

    it("gradients flow through views, indexing, cat and broadcasting", function()
      local x = torch.tensor({ 1.0, 2.0, 3.0 }, { dtype = "float64", requires_grad = true })
      local m = torch.ones(2, 3, F64)
      -- x is broadcast over 2 rows: each x_i is used twice
      local y = (x + m):sum() + (x[{ { 2, 3 } }] * 5):sum() + torch.cat({ x, x * 2 }):sum()
        + x:view(3, 1):t()[{ 1, 3 }] * 10
      y:backward()
      -- 2 (broadcast) + {0, 5, 5} (slice) + 3 (cat) + {0, 0, 10} (view, t, index)
      assert.same({ 5.0, 10.0, 20.0 }, x.grad:totable())
    end)
  end)

  describe("losses written in Lua match hand-derived gradients", function()
    it("MSE of a linear model: dL/dW = 2/N X^T (XW + b - y), dL/db = 2/N sum(XW + b - y)", function()
      local N, D = 32, 5
      local X = torch.randn(N, D, F64)
      local y = torch.randn(N, 1, F64)
      local W = param(torch.randn(D, 1, F64))
      local b = param(torch.randn(1, F64))
      local r = X:matmul(W) + b - y
      local loss = (r * r):mean()
      loss:backward()
      local rd = r:detach()
      assert_close(W.grad, X:t():matmul(rd) * (2 / N), 1e-12, "dL/dW")
      assert_close(b.grad, rd:sum():view(1) * (2 / N), 1e-12, "dL/db")
      -- the same loss through pow and mean over dims
      W.grad, b.grad = nil, nil
      local loss2 = ((X:matmul(W) + b - y) ^ 2):mean(1):sum()
      loss2:backward()
      assert_close(W.grad, X:t():matmul(rd) * (2 / N), 1e-12, "dL/dW via pow")
    end)

    it("softmax cross-entropy: dL/dz = (softmax(z) - onehot) / N", function()
      local N, C = 16, 7
      local z = param(torch.randn(N, C, F64) * 3)
      local labels = torch.randint(0, C, { N }) -- 0-based class labels, as in PyTorch
      local onehot = torch.zeros(N, C, F64):scatter(2, labels:view(N, 1), 1)
      local loss = -(onehot * z:log_softmax(2)):sum() / N
      loss:backward()
      local expected = (z:detach():softmax(2) - onehot) / N
      assert_close(z.grad, expected, 1e-14, "dL/dz")
      -- the loss itself: mean of -log softmax at the label
      local p = z:detach():softmax(2):gather(2, labels:view(N, 1))
      assert.near(-(p:log():mean():item()), loss:item(), 1e-12)
      -- a hand-written log-softmax (logsumexp) gives the same gradient
      z.grad = nil
      local lse = z:logsumexp(2, true)
      local loss2 = -(onehot * (z - lse)):sum() / N
      loss2:backward()
      assert_close(z.grad, expected, 1e-14, "dL/dz via logsumexp")
    end)

    it("sigmoid binary cross-entropy: dL/dz = (sigmoid(z) - y) / N", function()
      local N = 50
      local z = param(torch.randn(N, F64) * 2)
      local y = torch.rand(N, F64):gt(0.5):double()
      local p = z:sigmoid()
      local loss = -(y * p:log() + (1 - y) * (1 - p):log()):mean()
      loss:backward()
      assert_close(z.grad, (z:detach():sigmoid() - y) / N, 1e-14, "dL/dz")
      -- the stable form max(z, 0) - z y + log(1 + exp(-|z|)) has the same gradient
      z.grad = nil
      local loss2 = (z:relu() - z * y + (-z:abs()):exp():log1p()):mean()
      loss2:backward()
      assert.near(loss:item(), loss2:item(), 1e-12)
      assert_close(z.grad, (z:detach():sigmoid() - y) / N, 1e-14, "dL/dz stable form")
    end)

    it("a polynomial: d/dx (3x^3 - 2x^2 + 5x - 7) = 9x^2 - 4x + 5", function()
      local x = param(torch.linspace(-3, 3, 25, F64))
      local f = 3 * x ^ 3 - 2 * x * x + 5 * x - 7
      f:sum():backward()
      local xd = x:detach()
      assert_close(x.grad, 9 * xd * xd - 4 * xd + 5, 1e-12, "f'")
    end)

    it("the product and quotient rules", function()
      local x = param(torch.linspace(-2, 2, 17, F64))
      local xd = x:detach()
      -- (sin x * exp x)' = cos x exp x + sin x exp x
      ;(x:sin() * x:exp()):sum():backward()
      assert_close(x.grad, xd:cos() * xd:exp() + xd:sin() * xd:exp(), 1e-12, "product")
      -- (x / (1 + x^2))' = (1 - x^2) / (1 + x^2)^2
      x.grad = nil
      ;(x / (1 + x * x)):sum():backward()
      local q = 1 + xd * xd
      assert_close(x.grad, (1 - xd * xd) / (q * q), 1e-14, "quotient")
      -- a product of two parameters: d(u . v)/du = v, d/dv = u
      local u, v = param(torch.randn(6, F64)), param(torch.randn(6, F64))
      ;(u * v):sum():backward()
      assert_close(u.grad, v, 0, "d/du")
      assert_close(v.grad, u, 0, "d/dv")
    end)

    it("a matrix product: d sum(A B) / dA = 1 B^T, d/dB = A^T 1", function()
      local A, B = param(torch.randn(4, 3, F64)), param(torch.randn(3, 5, F64))
      A:matmul(B):sum():backward()
      local ones = torch.ones(4, 5, F64)
      assert_close(A.grad, ones:matmul(B:detach():t()), 1e-13, "dA")
      assert_close(B.grad, A:detach():t():matmul(ones), 1e-13, "dB")
    end)

    describe("a 2-layer MLP, tanh hidden layer, MSE", function()
      local N, D, H = 10, 4, 6
      local X, y, W1, b1, W2, b2

      local function forward()
        local h = (X:matmul(W1) + b1):tanh()
        local out = h:matmul(W2) + b2
        local r = out - y
        return (r * r):mean(), h, r
      end

      before_each(function()
        torch.manual_seed(7)
        X = torch.randn(N, D, F64)
        y = torch.randn(N, 1, F64)
        W1 = param(torch.randn(D, H, F64) * 0.5)
        b1 = param(torch.randn(H, F64) * 0.1)
        W2 = param(torch.randn(H, 1, F64) * 0.5)
        b2 = param(torch.randn(1, F64) * 0.1)
      end)

      it("matches backpropagation derived by hand", function()
        local loss, h, r = forward()
        loss:backward()
        h, r = h:detach(), r:detach()
        local dout = r * (2 / N)                            -- N x 1
        local dW2 = h:t():matmul(dout)                      -- H x 1
        local db2 = dout:sum():view(1)
        local dz = dout:matmul(W2:detach():t()) * (1 - h * h) -- N x H, tanh' = 1 - tanh^2
        local dW1 = X:t():matmul(dz)                        -- D x H
        local db1 = dz:sum(1)
        assert_close(W2.grad, dW2, 1e-13, "dW2")
        assert_close(b2.grad, db2, 1e-13, "db2")
        assert_close(W1.grad, dW1, 1e-13, "dW1")
        assert_close(b1.grad, db1, 1e-13, "db1")
      end)

      it("matches central finite differences in float64", function()
        local loss = forward()
        loss:backward()
        local eps = 1e-6
        -- O(eps^2) truncation plus O(1e-16 / eps) rounding: 1e-8 is ample
        local checked = 0
        for _, p in ipairs { W1, b1, W2, b2 } do
          local flat = p:detach():view(-1) -- shares storage with p
          local grad = p.grad:view(-1)
          for i = 1, flat:numel() do
            local v = flat[i]:item()
            local lp, lm
            torch.no_grad(function()
              flat[i] = v + eps
              lp = forward():item()
              flat[i] = v - eps
              lm = forward():item()
              flat[i] = v
            end)
            local numeric = (lp - lm) / (2 * eps)
            assert.near(numeric, grad[i]:item(), 1e-8)
            checked = checked + 1
          end
        end
        assert.equal(D * H + H + H + 1, checked)
      end)
    end)
  end)
end)
