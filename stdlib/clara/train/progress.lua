-- clara.train.progress: what a training run prints (VERBOSE, on by default).
--
-- Levels as Keras's `verbose`: 0 (or false) prints nothing (errors still
-- raise); 1 (or true, the default) draws a progress bar per epoch on a
-- terminal, redrawn in place (step/total, rate, ETA, running loss and
-- metrics) at most ten times a second; 2, and any output that is not a
-- terminal (server logs, pipes), prints one summary line per epoch and
-- never a carriage return.  Every level above 0 prints the epoch
-- summaries, early stopping and the epoch whose weights were restored.
-- Lines longer than the terminal (COLUMNS, else the terminal's own width,
-- else 80) wrap between their parts, never inside a word; elsewhere only
-- when COLUMNS is set (a log keeps one line per epoch).
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

-- level(verbose) -> 0, 1 or 2 (false and nil count as 0, true as 1)
function M.level(v)
  if v == true then return 1 end
  if type(v) == "number" then return v end
  return 0
end

-- the width lines wrap at: COLUMNS, else the terminal's, else 80; not on
-- a terminal, COLUMNS or none (math.huge: a log keeps one line per epoch)
function M.columns(terminal)
  local n = tonumber(os.getenv("COLUMNS") or "")
  if n and n >= 20 then return math.floor(n) end
  if terminal == false then return math.huge end
  return sys.columns(1) or 80
end

-- the pieces of a line a wrap may not cut, each with the separator before
-- it: the parts between runs of two spaces, each cut at single spaces
-- when it alone is too long
local function pieces(s, width)
  local out = {}
  for part in (s .. "  "):gmatch("(.-)  +") do
    if #part <= width then
      if part ~= "" then out[#out + 1] = { part, "  " } end
    else
      local sep = "  "
      for word in part:gmatch("%S+") do out[#out + 1] = { word, sep }; sep = " " end
    end
  end
  return out
end

-- wrap(s, width) -> s with a newline and two spaces of indent where it
-- would pass width, between parts ("loss 0.3" stays whole) or words;
-- a word longer than width stays whole on its own line
function M.wrap(s, width)
  if #s <= width then return s end
  local lines, cur = {}, nil
  for _, p in ipairs(pieces(s, width - 2)) do
    if cur == nil then cur = p[1]
    elseif #cur + #p[2] + #p[1] <= width then cur = cur .. p[2] .. p[1]
    else lines[#lines + 1] = cur; cur = "  " .. p[1] end
  end
  lines[#lines + 1] = cur
  return table.concat(lines, "\n")
end

-- "early stopping at epoch 7: val_loss did not improve for 3 epochs"
function M.early_stop_text(row, monitor, patience)
  return ("early stopping at epoch %d: %s did not improve for %d epoch%s"):format(row.epoch, monitor,
    patience, patience == 1 and "" or "s")
end

-- "restored the weights of epoch 4 (best val_loss 0.1234)"
function M.restored_text(best)
  return ("restored the weights of epoch %d (best %s %.4g)"):format(best.epoch, best.monitor, best.value)
end

local Progress = {}
Progress.__index = Progress

-- progress.new{verbose = 1, terminal = nil (ask isatty), out = io.stdout,
-- width = the bar's, columns = the width lines wrap at (nil: M.columns())}
function M.new(opts)
  opts = opts or {}
  local terminal = opts.terminal
  if terminal == nil then terminal = sys.isatty(1) end
  local level = opts.verbose == nil and 1 or M.level(opts.verbose)
  return setmetatable({ verbose = level > 0, level = level, terminal = terminal, bar = terminal and level == 1,
                        out = opts.out or io.stdout, width = opts.width, columns = opts.columns }, Progress)
end

function Progress:write(s)
  if self.verbose then self.out:write(s); if self.out.flush then self.out:flush() end end
end

function Progress:line(s)
  if not self.verbose then return end
  self.columns = self.columns or M.columns(self.terminal)
  self:write(M.wrap(s, self.columns) .. "\n")
end

function Progress:epoch_start(epoch, epochs, total)
  self.epoch, self.epochs, self.total = epoch, epochs, total
  self.t0, self.last_draw, self.next_mark, self.drawn = M.clock(), -1, 1, false
end

-- called after every step with the running stats: the bar (level 1 on a
-- terminal); nothing otherwise, the epoch's summary says it all
function Progress:step(step, stats)
  if not (self.verbose and self.bar) then return end
  local now = M.clock()
  if now - self.last_draw >= 0.1 or step == self.total then
    local rate = step / math.max(now - self.t0, 1e-9)
    self.last_draw = now
    self.drawn = true
    self:write("\r\27[K" .. M.bar(step, self.total, rate, stats, self.width))
  end
end

-- the summary line ends the bar's line on a terminal
function Progress:epoch_end(summary)
  if self.drawn then self:write("\n"); self.drawn = false end
  self:line(summary)
end

-- a run cut short: the bar's line ended, then why
function Progress:interrupted(text)
  if self.drawn then self:write("\n"); self.drawn = false end
  self:line(text)
end

return M
