-- clara.launch.ranks: the ranks of `clara launch` on this node, watched
-- until the last one ends.  Each rank is `clara argv...` in a process
-- group of its own (a terminal's Ctrl-C reaches only the launcher, which
-- passes it on once), with SIGTERM when the launcher dies (PDEATHSIG).
--
--   local code = ranks.launch { argv = {"train.lua", ...}, nproc = 2, first_rank = 0,
--                               env = {...}, log_dir = nil | DIR, grace = 10 }
--
-- The returned code is the exit status of the first rank that ended with
-- one other than 0 (128 + n for signal n), 0 when all exit 0.  A signal to
-- the launcher (FORWARDED) goes to every rank, and the launcher waits for
-- them however long they take to checkpoint (75 from a rank is then what it
-- was asked for); a second SIGINT adds SIGKILL after `grace` seconds.  Any
-- other non-zero end is a failure: the other ranks get SIGTERM, and SIGKILL
-- (their whole process group) after `grace` seconds.
local fs = require "clara.fs"
local proc = require "clara.process.core"
local signal = require "clara.signal"
local lines = require "clara.launch.lines"
local clock = require("clara.sys.core").clock

local M = {}

M.FORWARDED = { "TERM", "INT", "USR1", "HUP" }

local SIGNAL_NAMES = { [1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL", [6] = "SIGABRT",
  [7] = "SIGBUS", [8] = "SIGFPE", [9] = "SIGKILL", [10] = "SIGUSR1", [11] = "SIGSEGV", [12] = "SIGUSR2",
  [13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM" }

local function say(fmt, ...)
  io.stderr:write("clara launch: ", fmt:format(...), "\n")
end

-- "exited with code 3" | "was killed by signal 9 (SIGKILL)"
local function how(code, sig)
  if not sig then return ("exited with code %d"):format(code) end
  return ("was killed by signal %d (%s)"):format(sig, SIGNAL_NAMES[sig] or "?")
end

-- 1. starting: rank k's environment and where its output goes
local function start(o, k, exe)
  local env = {}
  for name, v in pairs(o.env) do env[name] = v end
  local rank = o.first_rank + k
  env.RANK, env.LOCAL_RANK = tostring(rank), tostring(k)
  local opts = { env = env, group = true, stdout = true, stderr = true }
  if o.log_dir then
    opts.stdout = fs.join(o.log_dir, ("rank-%d.out"):format(rank))
    opts.stderr = fs.join(o.log_dir, ("rank-%d.err"):format(rank))
  end
  local argv = { exe }
  table.move(o.argv, 1, #o.argv, 2, argv)
  local pid, out, err = proc.spawn(argv, opts)
  local r = { rank = rank, pid = pid, streams = {} }
  local prefix = ("[rank %d] "):format(rank)
  if out then r.streams[out] = lines.new(io.stdout, prefix) end
  if err then r.streams[err] = lines.new(io.stderr, prefix) end
  return r
end

local Launch = {}
Launch.__index = Launch

-- 2. output: what a rank's pipe holds now, up to 16 reads (1 MiB), so
-- that a rank that never stops writing does not keep the launcher from
-- the others and from its signals
local function pump(self, fd)
  local r = self.by_fd[fd]
  for _ = 1, 16 do
    local chunk = proc.read(fd)
    if chunk == false then
      r.streams[fd]:finish()
      r.streams[fd], self.by_fd[fd] = nil, nil
    end
    if not chunk then return end
    r.streams[fd]:add(chunk)
  end
end

function Launch:open_fds()
  local fds = {}
  for fd in pairs(self.by_fd) do fds[#fds + 1] = fd end
  return fds
end

-- the ranks ended: what their pipes still hold (a descendant of a rank
-- may hold a pipe open: the rank's end is the end)
function Launch:drain()
  for fd, r in pairs(self.by_fd) do
    pump(self, fd)
    if r.streams[fd] then
      r.streams[fd]:finish()
      proc.close(fd)
    end
  end
  self.by_fd = {}
end

-- 3. stopping: a signal to every running rank
function Launch:send(name, group)
  for pid in pairs(self.running) do proc.kill(pid, name, group) end
end

-- a second Ctrl-C means "now": the ranks get it too, and SIGKILL after
-- the grace period (other signals repeat as a scheduler's do: each passed on)
function Launch:forward(name)
  self.forwarded = self.forwarded or {}
  if name == "INT" and self.forwarded.SIGINT and not self.kill_at then
    say("SIGINT again: passed on; SIGKILL to the ranks still running in %g s", self.grace)
    self.kill_at = clock() + self.grace
  else
    say("SIG%s received: passed on to %d rank%s, waiting for them", name, self.n_running,
      self.n_running == 1 and "" or "s")
  end
  self.forwarded["SIG" .. name] = true
  self:send(name)
end

function Launch:stop()
  self.kill_at = clock() + self.grace
  self:send("TERM")
end

-- after the grace period, SIGKILL to each rank's whole group (what it
-- started too)
function Launch:escalate()
  for pid, r in pairs(self.running) do
    say("rank %d (pid %d) still running %g s after it was asked to stop: SIGKILL", r.rank, pid, self.grace)
    proc.kill(pid, "KILL", true)
  end
  self.kill_at = math.huge
end

-- 4. a rank ended
function Launch:ended(pid, code, sig)
  local r = self.running[pid]
  if not r then return end
  self.running[pid], self.n_running = nil, self.n_running - 1
  if code == 0 then return end
  self.code = self.code or code
  -- the expected answer to a forwarded signal (a checkpoint, or death by
  -- it), or to the launcher's stop
  local forwarded = self.forwarded or {}
  if code == signal.REQUEUE and self.forwarded or forwarded[SIGNAL_NAMES[sig]] or self.kill_at then return end
  say("rank %d (pid %d) %s%s", r.rank, pid, how(code, sig),
    self.n_running > 0 and ("; stopping the other ranks (SIGTERM, SIGKILL after %g s)"):format(self.grace) or "")
  self:stop()
end

function Launch:reap()
  while true do
    local pid, code, sig = proc.wait()
    if not pid then return end
    self:ended(pid, code, sig)
  end
end

function Launch:watch()
  while self.n_running > 0 do
    local sig = signal.pending()
    if sig then
      signal.clear()
      self:forward(sig)
    end
    for _, fd in ipairs(proc.poll(self:open_fds(), 0.05)) do pump(self, fd) end
    self:reap()
    if self.n_running > 0 and clock() >= (self.kill_at or math.huge) then self:escalate() end
  end
  self:drain()
end

function M.launch(o)
  local self = setmetatable({ running = {}, n_running = 0, by_fd = {}, grace = o.grace }, Launch)
  if o.log_dir then fs.mkdir_p(o.log_dir) end
  local exe = proc.executable()
  local ok, err = pcall(function()
    -- a signal while starting: no more ranks start, the started ones get it
    for k = 0, o.nproc - 1 do
      if signal.pending() then break end
      local r = start(o, k, exe)
      self.running[r.pid], self.n_running = r, self.n_running + 1
      for fd in pairs(r.streams) do self.by_fd[fd] = r end
    end
  end)
  if not ok then
    self.kill_at = math.huge -- their deaths are this stop, not failures to report
    self:send("KILL", true)
    self:watch()
    error(err, 0)
  end
  if self.n_running == 0 then return signal.REQUEUE end -- a signal before any rank began
  self:watch()
  return self.code or 0
end

return M
