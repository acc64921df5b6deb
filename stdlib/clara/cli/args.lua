-- clara.cli.args: what every `clara WORD ...` command shares: reading its
-- command line, usage errors (exit 2) and other errors (exit 1) as one
-- line without a traceback.
--
--   local cmd = require("clara.cli.args").command("battery", USAGE)
--   local o, rest = cmd:parse({...}, {jobs = "count", only = "string", list = "flag"}, {["-j"] = "jobs"})
--   cmd:main(function() ... return exit_code end)
--
-- Option kinds: "flag" (no value), "string", "number", "count" (an integer
-- >= 1), "list" (repeatable: a list of strings), "optional" (a flag, or
-- --name=value), or a function(value, cmd) returning the converted value.
-- Values come as `--name value` or `--name=value`; `--help`/`-h` prints the
-- usage (or what cmd.help(o) returns, o being the other options parsed)
-- and exits; `--` ends the options.  In the result, '-' in names becomes '_'.
-- With cmd.passthrough set, the first positional argument ends the options
-- too: it and all after it are a script's own command line (`clara launch`).
local M = {}

local Command = {}
Command.__index = Command

function M.command(word, usage)
  return setmetatable({ word = word, usage = usage }, Command)
end

-- a usage error: the message and the usage on stderr, exit code 2
function Command:die(msg)
  io.stderr:write("clara ", self.word, ": ", msg, "\n", self.usage, "\n")
  os.exit(2)
end

local function convert(self, flag, kind, v)
  if type(kind) == "function" then return kind(v, self) end
  if kind == "number" then
    local n = tonumber(v)
    if not n then self:die(("%s expects a number, got '%s'"):format(flag, v)) end
    return n
  end
  if kind == "count" then
    local n = math.tointeger(tonumber(v))
    if not n or n < 1 then self:die(("%s expects a positive integer, got '%s'"):format(flag, v)) end
    return n
  end
  return v
end

-- parse(args, options, aliases) -> options table, list of positional arguments
function Command:parse(args, options, aliases)
  local o, rest, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    local flag, inline = a:match("^(%-%-[%w-]+)=(.*)$")
    flag = flag or a
    local name = (aliases and aliases[flag]) or flag:match("^%-%-([%w-]+)$")
    local kind = name and options[name]
    if a == "--help" or a == "-h" then
      o.help = true
    elseif a == "--" then
      table.move(args, i + 1, #args, #rest + 1, rest)
      break
    elseif kind then
      local key, v = name:gsub("-", "_"), true
      if kind == "flag" then
        if inline then self:die(flag .. " takes no value") end
      elseif kind == "optional" then
        v = inline or true
      else
        v = inline
        if v == nil then
          i = i + 1
          v = args[i]
          if v == nil then self:die(flag .. " needs a value") end
        end
        v = convert(self, flag, kind, v)
      end
      if kind == "list" then
        o[key] = o[key] or {}
        o[key][#o[key] + 1] = v
      else
        o[key] = v
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      self:die("unknown option '" .. a .. "'" .. (self.unknown_suffix or ""))
    elseif self.passthrough then
      table.move(args, i, #args, #rest + 1, rest)
      break
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  if o.help then
    print(self.help and self.help(o) or self.usage); os.exit(0)
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
  local spec = chunk()
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
