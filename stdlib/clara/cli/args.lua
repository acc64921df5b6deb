-- clara.cli.args: what every `clara WORD ...` command shares: reading its
-- command line by the options clara.cli.commands declares for it, usage
-- errors (exit 2) and other errors (exit 1) as one line without a
-- traceback.
--
--   local cmd = require("clara.cli.args").command("battery")
--   local o, rest = cmd:parse({...})
--   cmd:main(function() ... return exit_code end)
--
-- Option kinds: "flag" (no value), "string", "number", "count" (an integer
-- >= 1), "list" (repeatable: a list of strings), "optional" (a flag, or
-- --name=value), "positive" (a number > 0), "seconds" (a finite number >=
-- 0), "index" (an integer >= 0), "port" (1 .. 65535), "shape" (1,28,28: a
-- list of integers >= 1).  Values come as `--name value` or
-- `--name=value`; `--help`/`-h` prints the command's help and exits (then
-- text, alone = cmd.more_help(o), o the other options parsed, adds text
-- after it, or prints text alone);
-- `--` ends the options.  In the result, '-' in names becomes '_'.  With the
-- declaration's passthrough set, the first positional argument ends the
-- options too: it and all after it are a script's own command line.
local commands = require "clara.cli.commands"
local usage = require "clara.cli.usage"

local M = {}

local Command = {}
Command.__index = Command

function M.command(word)
  local decl = assert(commands.find(word), "no declaration of the command " .. word)
  return setmetatable({ word = word, decl = decl, usage = usage.line(decl) }, Command)
end

-- a usage error: the message and the usage on stderr, exit code 2
function Command:die(msg)
  io.stderr:write("clara ", self.word, ": ", msg, "\n", self.usage,
    "\n(clara help ", self.word, ": every option, with an example)\n")
  os.exit(2)
end

-- the converters of the kinds that take a value: (self, flag, text) -> value
local function integer(v) return math.tointeger(tonumber(v)) end
local CONVERT = {
  string = function(_, _, v) return v end,
  list = function(_, _, v) return v end,
  number = function(self, flag, v)
    return tonumber(v) or self:die(("%s expects a number, got '%s'"):format(flag, v))
  end,
  count = function(self, flag, v)
    local n = integer(v)
    if not n or n < 1 then self:die(("%s expects a positive integer, got '%s'"):format(flag, v)) end
    return n
  end,
  positive = function(self, flag, v)
    local n = tonumber(v)
    if not n or n <= 0 or n ~= n then self:die(("%s expects a number > 0, got '%s'"):format(flag, v)) end
    return n
  end,
  seconds = function(self, flag, v)
    local n = tonumber(v)
    if not n or n < 0 or n ~= n or n == math.huge then
      self:die(("%s expects a number of seconds >= 0, got '%s'"):format(flag, v))
    end
    return n
  end,
  index = function(self, flag, v)
    local n = integer(v)
    if not n or n < 0 then self:die(("%s expects an integer >= 0, got '%s'"):format(flag, v)) end
    return n
  end,
  port = function(self, flag, v)
    local n = integer(v)
    if not n or n < 1 or n > 65535 then self:die(("%s expects a port (1 .. 65535), got '%s'"):format(flag, v)) end
    return n
  end,
  shape = function(self, flag, v)
    local shape = {}
    for part in (v .. ","):gmatch("([^,]*),") do
      local n = integer(part)
      if not n or n < 1 then
        self:die(("%s expects positive integers separated by commas (e.g. 1,28,28), got '%s'"):format(flag, v))
      end
      shape[#shape + 1] = n
    end
    return shape
  end,
}

-- the declared options (of one `clara script` kind: scope), by name and by alias
local function declared(self, scope)
  local kinds, aliases, flags = {}, {}, {}
  for _, opt in ipairs(self.decl.options) do
    if opt.only == nil or opt.only == scope then
      kinds[opt[1]] = opt[2]
      flags[#flags + 1] = "--" .. opt[1]
      if opt.alias then aliases[opt.alias] = opt[1] end
    end
  end
  return kinds, aliases, flags
end

-- "unknown option '--metirc'; did you mean '--metric'?"
local function unknown(self, a, flags)
  local near = require("clara.error").closest(a:match("^[^=]*"), flags)
  self:die("unknown option '" .. a .. "'" .. (self.unknown_suffix or "")
    .. (near and ("; did you mean '" .. near .. "'?") or ""))
end

local function value(self, a, flag, inline, kind, args, i)
  if kind == "flag" then
    if inline then self:die(flag .. " takes no value") end
    return true, i
  elseif kind == "optional" then
    return inline or true, i
  end
  local v = inline
  if v == nil then
    i = i + 1
    v = args[i]
    if v == nil then self:die(flag .. " needs a value") end
  end
  return CONVERT[kind](self, flag, v), i
end

-- parse(args[, scope]) -> options table, list of positional arguments
-- (scope: the `clara script` kind whose options count)
function Command:parse(args, scope)
  local kinds, aliases, flags = declared(self, scope)
  local o, rest, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    local flag, inline = a:match("^(%-%-[%w-]+)=(.*)$")
    flag = flag or a
    local name = aliases[flag] or flag:match("^%-%-([%w-]+)$")
    local kind = name and kinds[name]
    if a == "--help" or a == "-h" then
      o.help = true
    elseif a == "--" then
      table.move(args, i + 1, #args, #rest + 1, rest)
      break
    elseif kind then
      local key, v = name:gsub("-", "_"), nil
      v, i = value(self, a, flag, inline, kind, args, i)
      if kind == "list" then
        o[key] = o[key] or {}
        o[key][#o[key] + 1] = v
      else
        o[key] = v
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      unknown(self, a, flags)
    elseif self.decl.passthrough then
      table.move(args, i, #args, #rest + 1, rest)
      break
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  if o.help then
    local more, alone
    if self.more_help then more, alone = self.more_help(o) end
    if alone then print(more) else print(usage.help(self.decl) .. (more and ("\n" .. more) or "")) end
    os.exit(0)
  end
  return o, rest
end

-- single(rest, what) -> the one positional argument ("battery file")
function Command:single(rest, what)
  if #rest == 0 then self:die("no " .. what .. " given") end
  if #rest > 1 then self:die(("one %s expected, got '%s' and '%s'"):format(what, rest[1], rest[2])) end
  return rest[1]
end

-- "0.01" -> 0.01, "64" -> 64, "true" -> true, "nil" -> nil, else the text
function M.value(s)
  if s == "true" then return true elseif s == "false" then return false elseif s == "nil" then return nil end
  return math.tointeger(tonumber(s)) or tonumber(s) or s
end

-- settings(list) -> {{key, value}, ...} from --set's "key=value" strings
-- (values by M.value; a pair, so that a nil value keeps its key)
function Command:settings(list)
  local out = {}
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match("^([%a_][%w_.]*)=(.*)$")
    if not k then self:die("--set expects key=value, got '" .. kv .. "'") end
    out[#out + 1] = { k, M.value(v) }
  end
  return out
end

-- experiment(path) -> the experiment the script at path returns (the
-- table clara.experiment takes, or a clara.experiment object)
function Command:experiment(path)
  local clara = require "clara"
  local chunk, err = loadfile(path)
  if not chunk then self:die(err) end
  local spec = require("clara.experiment.load").call(chunk)
  if type(spec) ~= "table" then
    self:die(("'%s' must return an experiment (a table or clara.experiment), got %s"):format(path, type(spec)))
  end
  return getmetatable(spec) == clara.experiment.Experiment and spec or clara.experiment(spec)
end

-- main(fn, ...): runs fn(...); its error is one line ("clara WORD: msg",
-- without the Lua position) and exit code 1; else exit with what fn
-- returned (0 when nothing)
function Command:main(fn, ...)
  local ok, code = pcall(fn, ...)
  if not ok then
    local msg = tostring(code):gsub("^[^:]*:%d+: ", "")
    if self.strip then msg = msg:gsub(self.strip, "") end
    io.stderr:write("clara ", self.word, ": ", msg, "\n")
    os.exit(1)
  end
  os.exit(code or 0)
end

return M
