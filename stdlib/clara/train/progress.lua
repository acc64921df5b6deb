-- clara.train.progress: what a training run prints (VERBOSE, on by default).
--
-- On a terminal: one progress bar per epoch, redrawn in place (step/total,
-- rate, ETA, running loss and metrics), at most ten times a second.
-- Elsewhere (server logs, pipes): one plain line per ~10% of an epoch,
-- never a carriage return.  Both: one summary line per epoch.
-- verbose = false prints nothing (errors still raise).
-- Terminal detection is isatty(1) from clara.sys.core (bindings/l_sys.c).
local sys = require "clara.sys.core"

local M = {}

M.clock = sys.clock

-- "1:05" / "1:02:03"
function M.duration(s)
  if s ~= s or s == math.huge or s < 0 then return "?" end
  s = math.floor(s + 0.5)
  local h, m = s // 3600, (s % 3600) // 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s % 60) end
  return ("%d:%02d"):format(m, s % 60)
end

-- stats: a list of {name, value}; values as %.4g
function M.stats_text(stats)
  local parts = {}
  for _, kv in ipairs(stats or {}) do
    if type(kv[2]) == "number" then parts[#parts + 1] = ("%s %.4g"):format(kv[1], kv[2]) end
  end
  return table.concat(parts, "  ")
end

-- the terminal line: "  37/100 [=======>        ]  12.3 it/s  ETA 0:05  loss 0.4321"
-- (total nil: no bar, no ETA)
function M.bar(step, total, rate, stats, width)
  width = width or 24
  local head
  if total and total > 0 then
    local filled = math.floor(width * math.min(step, total) / total)
    local bar = string.rep("=", filled) .. (filled < width and ">" or "") .. string.rep(" ", math.max(0, width - filled - 1))
    local eta = rate > 0 and (total - step) / rate or math.huge
    local count = ("%" .. #tostring(total) .. "d/%d"):format(step, total)
    head = ("%s [%s] %6.1f it/s  ETA %s"):format(count, bar, rate, M.duration(eta))
  else
    head = ("%d %6.1f it/s"):format(step, rate)
  end
  local s = M.stats_text(stats)
  return s == "" and head or (head .. "  " .. s)
end

-- the log line: "epoch 2/10  40% (37/100)  12.3 it/s  ETA 0:05  loss 0.4321"
function M.log_line(epoch, epochs, step, total, rate, stats)
  local pos = total and ("%3d%% (%d/%d)"):format(math.floor(100 * step / total + 0.5), step, total) or ("step %d"):format(step)
  local eta = total and rate > 0 and ("  ETA " .. M.duration((total - step) / rate)) or ""
  local s = M.stats_text(stats)
  return ("epoch %d/%d  %s  %.1f it/s%s%s"):format(epoch, epochs, pos, rate, eta, s == "" and "" or ("  " .. s))
end

-- "loss 0.3  acc 0.9" from a table of values, sorted by name, loss first
function M.row_text(t)
  local keys = {}
  for k, v in pairs(t) do if type(v) == "number" and k ~= "loss" then keys[#keys + 1] = k end end
  table.sort(keys)
  local parts = { t.loss and ("loss %.4g"):format(t.loss) or nil }
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s %.4g"):format(k, t[k]) end
  return table.concat(parts, "  ")
end

-- an epoch's summary line: "epoch 2/5  train_loss 0.3  val_acc 0.9  (1.2s)"
function M.summary(row, epochs)
  local keys = {}
  for k, v in pairs(row) do
    if type(v) == "number" and k ~= "epoch" and k ~= "time" and k ~= "lr" and not k:find("_w$") then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys)
  local parts = { ("epoch %d/%d"):format(row.epoch, epochs) }
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s %.4g"):format(k, row[k]) end
  parts[#parts + 1] = ("(%.1fs)"):format(row.time or 0)
  return table.concat(parts, "  ")
end

local Progress = {}
Progress.__index = Progress

-- progress.new{verbose = true, terminal = nil (ask isatty), out = io.stdout}
function M.new(opts)
  opts = opts or {}
  local terminal = opts.terminal
  if terminal == nil then terminal = sys.isatty(1) end
  return setmetatable({ verbose = opts.verbose ~= false, terminal = terminal,
                        out = opts.out or io.stdout, width = opts.width }, Progress)
end

function Progress:write(s)
  if self.verbose then self.out:write(s); if self.out.flush then self.out:flush() end end
end

function Progress:line(s) self:write(s .. "\n") end

function Progress:epoch_start(epoch, epochs, total)
  self.epoch, self.epochs, self.total = epoch, epochs, total
  self.t0, self.last_draw, self.next_mark, self.drawn = M.clock(), -1, 1, false
end

-- called after every step with the running stats
function Progress:step(step, stats)
  if not self.verbose then return end
  local now = M.clock()
  local rate = step / math.max(now - self.t0, 1e-9)
  if self.terminal then
    if now - self.last_draw >= 0.1 or step == self.total then
      self.last_draw = now
      self.drawn = true
      self:write("\r\27[K" .. M.bar(step, self.total, rate, stats, self.width))
    end
  elseif self.total then
    -- marks at 10%, 20%, ..., 100% of the epoch
    local mark = math.ceil(self.next_mark * self.total / 10)
    if step >= mark then
      while self.next_mark <= 10 and step >= math.ceil(self.next_mark * self.total / 10) do
        self.next_mark = self.next_mark + 1
      end
      self:line(M.log_line(self.epoch, self.epochs, step, self.total, rate, stats))
    end
  elseif step % 100 == 0 then
    self:line(M.log_line(self.epoch, self.epochs, step, nil, rate, stats))
  end
end

-- the summary line ends the bar's line on a terminal
function Progress:epoch_end(summary)
  if self.terminal and self.drawn then self:write("\n") end
  self:line(summary)
end

return M
