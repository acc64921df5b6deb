-- clara.fs: the few file operations a run directory needs.  Every whole-file
-- write is atomic: the bytes go to a temporary file next to the target, are
-- flushed to disk, and the temporary is renamed over the target, so a run
-- killed at any moment leaves the old file or the new one, never half of
-- one.  Temporary names end in ".tmp-XXXXXX", like torch.save's.
local lfs = require "lfs"
local core = require "clara.signal.core"

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
      error("clara.fs.mkdir_p: cannot create '" .. path .. "': '" .. sofar
            .. "' exists and is not a directory", 2)
    end
    if not fs.isdir(sofar) then
      local ok, err = lfs.mkdir(sofar)
      if not ok and not fs.isdir(sofar) then   -- another process may race us
        error("clara.fs.mkdir_p: cannot create '" .. sofar .. "': " .. tostring(err), 2)
      end
    end
  end
  return true
end

-- a name no other writer in this or another process is using
local counter = 0
local function temp_name(path)
  counter = counter + 1
  local salt = (core.getpid() * 7919 + counter * 104729 + os.time()) % 0x1000000
  return string.format("%s%s%06x", path, fs.TEMP_MARK, salt)
end

-- write_atomic(path, s): path holds exactly s afterwards, or (after an
-- error or a crash) what it held before
function fs.write_atomic(path, s)
  if type(path) ~= "string" then
    error("clara.fs.write_atomic: path (a string) expected, got " .. type(path), 2)
  end
  if type(s) ~= "string" then
    error("clara.fs.write_atomic: contents (a string) expected, got " .. type(s), 2)
  end
  -- 1. the temporary, in the target's directory (rename is atomic only
  --    within one file system)
  local tmp = temp_name(path)
  local f, err = io.open(tmp, "wb")
  if not f then error("clara.fs.write_atomic: cannot write '" .. path .. "': " .. err, 2) end
  -- 2. the bytes, then fsync, so the rename never exposes an empty file
  local ok, werr = f:write(s)
  local closed, cerr = f:close()
  local synced, serr = true, nil
  if ok and closed then synced, serr = core.fsync_path(tmp) end
  if not (ok and closed and synced) then
    os.remove(tmp)
    error("clara.fs.write_atomic: cannot write '" .. path .. "': "
          .. tostring(werr or cerr or serr), 2)
  end
  -- 3. the rename, and the directory entry to disk
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    error("clara.fs.write_atomic: cannot write '" .. path .. "': " .. tostring(rerr), 2)
  end
  core.fsync_dir(fs.dirname(path))
  return true
end

-- append(path, s): for logs whose torn last line a later rewrite repairs
function fs.append(path, s)
  local f, err = io.open(path, "ab")
  if not f then error("clara.fs.append: cannot open '" .. path .. "': " .. err, 2) end
  f:write(s)
  f:flush()
  f:close()
end

function fs.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

-- the temporaries a killed writer left in dir (never a finished file)
function fs.stale_temps(dir)
  local found = {}
  if not fs.isdir(dir) then return found end
  for name in lfs.dir(dir) do
    if name:find(fs.TEMP_MARK, 1, true) then found[#found + 1] = fs.join(dir, name) end
  end
  table.sort(found)
  return found
end

function fs.remove_stale_temps(dir)
  local found = fs.stale_temps(dir)
  for _, p in ipairs(found) do os.remove(p) end
  return #found
end

return fs
