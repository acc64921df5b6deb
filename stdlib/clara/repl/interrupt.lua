-- clara.repl.interrupt: Ctrl-C during exp:run() in the REPL stops the run
-- at its next step boundary and returns what it has (model, history,
-- result.interrupted = "INT"), as Keras and Lightning do; a second Ctrl-C
-- stops it at once ("interrupted!", as any chunk).
--
-- The runtime's Ctrl-C hook (runtime/run.c) reads this module's table raw:
-- while `soft` > 0 (a run without signal handlers of its own is in
-- progress) and under the REPL, the first Ctrl-C sets `pending` instead of
-- raising.  Runs with handle_signals (clara run, batteries) answer the
-- signal through clara.signal instead; scripts keep "interrupted!".
local M = { soft = 0, pending = false }

-- scope() -> done: a run in progress until done() (nested runs count)
function M.scope()
  M.soft = M.soft + 1
  local open = true
  return function()
    if not open then return end
    open = false
    M.soft = M.soft - 1
    if M.soft == 0 then M.pending = false end
  end
end

-- take() -> "INT" once after a Ctrl-C, else nil
function M.take()
  if not M.pending then return nil end
  M.pending = false
  return "INT"
end

-- recorder(inner) -> a recorder (clara.train.clear's protocol) that is
-- inner and, at each step boundary, ends the run on a pending Ctrl-C
function M.recorder(inner)
  local rec = {}
  for _, name in ipairs { "run_start", "epoch_end", "run_end" } do
    rec[name] = function(_, ...)
      if inner and inner[name] then return inner[name](inner, ...) end
    end
  end
  function rec:step_end(ctx)
    if inner and inner.step_end then inner:step_end(ctx) end
    ctx.interrupted = ctx.interrupted or M.take()
  end
  if inner and inner.failed then rec.failed = function(_, ...) return inner:failed(...) end end
  return rec
end

return M
