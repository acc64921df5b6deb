-- clara.fs: the few file operations a run directory needs.  Every whole-file
-- write is atomic: the bytes go to a temporary file next to the target, are
-- flushed to disk, and the temporary is renamed over the target, so a run
-- killed at any moment leaves the old file or the new one, never half of
-- one.  Temporary names are "<target>.tmp-<pid>-XXXXXX", like torch.save's:
-- a process removes its own or a dead process's, never one in flight.
-- Every step of a write is checked; a failure raises with the path and the
-- system's reason (a full disk is an error, not lost rows).
--
-- fs.lock(dir) holds a run directory for this process (see below).
local lfs = require "lfs"
local core = require "clara.signal.core"
local sys = require "clara.sys.core"
local E = require "clara.error"

local fs = {}

fs.TEMP_MARK = ".tmp-"

function fs.dirname(path)
  local d = path:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

function fs.join(...)
  return (table.concat({ ... }, "/"):gsub("//+", "/"))
end

function fs.exists(path) return lfs.attributes(path, "mode") ~= nil end
function fs.isdir(path) return lfs.attributes(path, "mode") == "directory" end

-- mkdir -p: each missing component in turn
function fs.mkdir_p(path)
  if fs.isdir(path) then return true end
  local sofar = path:sub(1, 1) == "/" and "" or "."
  for part in path:gmatch("[^/]+") do
    sofar = sofar .. "/" .. part
    if fs.exists(sofar) and not fs.isdir(sofar) then
      E.raise("clara.fs.mkdir_p", "cannot create '%s': '%s' exists and is not a directory", path, sofar)
    end
    if not fs.isdir(sofar) then
      local ok, err = lfs.mkdir(sofar)
      if not ok and not fs.isdir(sofar) then   -- another process may race us
        E.raise("clara.fs.mkdir_p", "cannot create '%s': %s", sofar, tostring(err))
      end
    end
  end
  return true
end

-- a name no other writer in this or another process is using
local counter = 0
local function temp_name(path)
  counter = counter + 1
  local salt = (counter * 104729 + os.time()) % 0x1000000
  return string.format("%s%s%d-%06x", path, fs.TEMP_MARK, core.getpid(), salt)
end

-- fs.on_write(path), when set, is called after each file a write finished
-- (write_atomic, append, and the torch.save of clara.run): a test makes
-- the process die there, between two writes, to check what a resume sees
fs.on_write = nil
function fs.written(path)
  local hook = rawget(fs, "on_write")   -- (rawget: fs may become a strict namespace)
  if hook then hook(path) end
end

-- "cannot write 'path': reason", without the temporary's name that io
-- and os put before the reason
local function cannot(api, path, why, tmp)
  why = tostring(why)
  local at = why:find(tmp .. ": ", 1, true)
  if at then why = why:sub(at + #tmp + 2) end
  E.raise(api, "cannot write '%s': %s", path, why)
end

-- write_atomic(path, s): path holds exactly s afterwards, or (after an
-- error or a crash) what it held before
function fs.write_atomic(path, s)
  local api = "clara.fs.write_atomic"
  if type(path) ~= "string" then E.raise(api, "path (a string) expected, got %s", type(path)) end
  if type(s) ~= "string" then E.raise(api, "contents (a string) expected, got %s", type(s)) end
  -- 1. the temporary, in the target's directory (rename is atomic only
  --    within one file system)
  local tmp = temp_name(path)
  local f, err = io.open(tmp, "wb")
  if not f then cannot(api, path, err, tmp) end
  -- 2. the bytes, then fsync, so the rename never exposes an empty file
  local ok, werr = f:write(s)
  if ok then ok, werr = f:flush() end
  local closed, cerr = f:close()
  local synced, serr = true, nil
  if ok and closed then synced, serr = core.fsync_path(tmp) end
  if not (ok and closed and synced) then
    os.remove(tmp)
    cannot(api, path, werr or cerr or serr, tmp)
  end
  -- 3. the rename, and the directory entry to disk
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    cannot(api, path, rerr, tmp)
  end
  local dsynced, derr = core.fsync_dir(fs.dirname(path))
  if not dsynced then cannot(api, path, derr, tmp) end
  fs.written(path)
  return true
end

-- append(path, s): s at the end of path, on disk; on a failure (a full
-- disk) the file keeps its old contents and the error names path
function fs.append(path, s)
  local api = "clara.fs.append"
  if type(path) ~= "string" then E.raise(api, "path (a string) expected, got %s", type(path)) end
  if type(s) ~= "string" then E.raise(api, "contents (a string) expected, got %s", type(s)) end
  local ok, err = sys.append(path, s)
  if not ok then E.raise(api, "%s", err) end
  fs.written(path)
  return true
end

function fs.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

-- the temporaries a killed writer left in dir (never a finished file,
-- nor one that a live process other than this one is writing)
function fs.stale_temps(dir)
  local found, me = {}, core.getpid()
  if not fs.isdir(dir) then return found end
  for name in lfs.dir(dir) do
    local at = name:find(fs.TEMP_MARK, 1, true)
    if at then
      local pid = tonumber(name:sub(at + #fs.TEMP_MARK):match("^(%d+)%-"))
      if not pid or pid == me or not sys.alive(pid) then found[#found + 1] = fs.join(dir, name) end
    end
  end
  table.sort(found)
  return found
end

function fs.remove_stale_temps(dir)
  local found = fs.stale_temps(dir)
  for _, p in ipairs(found) do os.remove(p) end
  return #found
end

-- {====================== run directory locks ======================
-- lock(dir, api) -> a lock: this process holds dir (an exclusive flock on
-- dir/.lock) until lock:release(), the lock is collected or the process
-- ends.  Another process that holds it makes this raise "run <dir> is in
-- use by PID n" (try_lock returns nil, that message, the pid).  Locks nest
-- within a process (a battery entry, then its CV, then a fold's run): the
-- directory is freed when its last holder releases it.
fs.LOCK_NAME = ".lock"
local held = {}   -- realpath -> {lock = handle, n = holders}

local Lock = {}
Lock.__index = Lock
function Lock:release()
  local key = self.key
  if not key then return end
  self.key = nil
  local h = held[key]
  h.n = h.n - 1
  if h.n == 0 then
    held[key] = nil
    h.lock:release()
  end
end
Lock.__gc = Lock.release
Lock.__close = Lock.release

function fs.try_lock(dir)
  local key, err = sys.realpath(dir)
  if not key then return nil, err end
  local h = held[key]
  if not h then
    local lock, why, pid = sys.lock(fs.join(key, fs.LOCK_NAME))
    if not lock then
      if pid == nil then return nil, why end
      return nil, ("run %s is in use by PID %s: wait until it ends (or stop it), then try again")
        :format(dir, pid > 0 and tostring(pid) or "(unknown)"), pid
    end
    h = { lock = lock, n = 0 }
    held[key] = h
  end
  h.n = h.n + 1
  return setmetatable({ key = key, dir = dir }, Lock)
end

function fs.lock(dir, api)
  local lock, err = fs.try_lock(dir)
  if not lock then E.raise(api or "clara.fs.lock", "%s", err) end
  return lock
end

-- whether this process holds dir
function fs.holds(dir)
  local key = sys.realpath(dir)
  return key ~= nil and held[key] ~= nil
end
-- }================================================================

return fs
