-- clara.scripts: job scripts that run a battery where clara cannot stay in
-- the foreground: a SLURM job array (one task per entry) or a plain bash
-- runner for a server without a scheduler.  Both are templates the user
-- may complete (partition, modules, ...) and both only ever run
-- `clara battery FILE --entry I`, which skips finished entries and resumes
-- interrupted ones, so a script can be re-run or requeued at any time.
--
--   local scripts = require "clara.scripts"
--   local b = clara.battery.load("battery.lua")
--   local text = scripts.slurm(b, {time = "04:00:00", cpus = 2})
--   local text = scripts.bash(b, {jobs = 2})
--
-- Each returns the script's text and the context it was made from
-- (absolute paths: clara, battery_file, workdir, battery_dir, log_dir;
-- entries = names by index).
--
-- Common options: battery_file (default: b.source, set by
-- clara.battery.load), clara (the binary; default: this process),
-- workdir (where relative out_dirs resolve; default: the current
-- directory), log_dir (default: <battery dir>/logs).
local lfs = require "lfs"
local fs = require "clara.fs"
local E = require "clara.error"

local scripts = {}

-- msg (it names the API) raised at the user's line, or with no position
-- when the command line (clara script) called
local function fail(msg) E.raise(nil, msg) end

-- guard(generate): generate(b, opts) as it is: clara.error already puts
-- the user's line on its errors (kept for the generators written with it)
function scripts.guard(generate) return generate end
scripts.fail = fail

-- the options every script takes; each generator adds its own
scripts.COMMON = {
  workdir = { type = "string", doc = "where the script runs clara (default: the current directory)" },
  battery_file = { type = "string", doc = "the battery's path (default: the battery's source)" },
  clara = { type = "string", doc = "the clara program the script runs (default: this one)" },
  log_dir = { type = "string", doc = "the entries' logs (default: <battery dir>/logs)" },
}

-- shell_quote(s): one bash word, whatever s holds.  Double quotes with
-- \ before $ ` " \ (single quotes would do, but shellcheck takes a '$'
-- inside them for a mistake)
function scripts.shell_quote(s)
  return '"' .. tostring(s):gsub('[%$`"\\]', "\\%0") .. '"'
end

-- sbatch_quote(s): one argument of an #SBATCH line.  sbatch splits those
-- lines itself (not through a shell): double quotes group, a backslash
-- escapes, an unquoted '#' starts a comment.
function scripts.sbatch_quote(s)
  return '"' .. tostring(s):gsub('[\\"]', "\\%0") .. '"'
end

-- comment_text(s): s on one comment line (names may hold anything)
function scripts.comment_text(s)
  return (tostring(s):gsub("[%c]", "?"))
end

local function absolute(path, base)
  if path:sub(1, 1) == "/" then return path end
  return fs.join(base, (path:gsub("^%./", "")))
end

-- the clara binary running now: /proc/<pid>/exe, else the cwd's ./clara
local function this_clara(cwd)
  local exe = lfs.symlinkattributes("/proc/" .. require("clara.signal").getpid() .. "/exe", "target")
  if exe and exe ~= "" then return exe end
  return absolute(arg and arg[-1] or "clara", cwd)
end

local function check_battery(b, who)
  if type(b) ~= "table" then fail(who .. ": battery object expected, got " .. type(b)) end
  for _, m in ipairs { "entries", "dir" } do
    if type(b[m]) ~= "function" then
      fail(who .. ": the battery has no " .. m .. "() method (a clara.battery object expected)")
    end
  end
end

-- the options of every script and the generator's own, less one
local function full_schema(schema, without)
  local full = {}
  for k, v in pairs(scripts.COMMON) do full[k] = v end
  for k, v in pairs(schema or {}) do full[k] = v end
  if without then full[without] = nil end
  return full
end

-- context(b, opts, who[, schema]): what every template needs, with absolute
-- paths; opts checked against COMMON and the generator's schema
function scripts.context(b, opts, who, schema)
  check_battery(b, who)
  opts = E.options(who, opts, full_schema(schema))
  -- 1. the directory relative out_dirs are resolved from, and the files
  -- (paths given relative are relative to the current directory; the
  -- battery's out_dir to workdir, where the scripts will run clara)
  local cwd = lfs.currentdir()
  local workdir = absolute(opts.workdir or cwd, cwd)
  local file = opts.battery_file or b.source
  if type(file) ~= "string" then
    fail(who .. ": battery_file (the battery's path) is required")
  end
  local ctx = {
    name = tostring(b.name or "battery"),
    workdir = workdir,
    battery_file = absolute(file, cwd),
    clara = absolute(opts.clara or this_clara(cwd), cwd),
  }
  ctx.battery_dir = absolute(b:dir(), ctx.workdir)
  ctx.log_dir = absolute(opts.log_dir or fs.join(ctx.battery_dir, "logs"), cwd)
  for _, k in ipairs { "workdir", "battery_file", "clara", "log_dir" } do
    if ctx[k]:find("[%c]") then fail(("%s: the path '%s' holds a control character"):format(who, ctx[k])) end
  end
  -- 2. the entries, by index
  ctx.entries = {}
  for i, e in ipairs(b:entries()) do ctx.entries[i] = scripts.comment_text(e.name or ("entry " .. i)) end
  if #ctx.entries == 0 then fail(who .. ": the battery '" .. ctx.name .. "' has no entries") end
  -- 3. a name SLURM and file names accept
  ctx.job_name = ctx.name:gsub("[^%w%._%-]", "_")
  return ctx
end

-- a bare lowercase word that is no file names a clara command (`run`), as
-- the clara program itself reads its first argument
local function clara_command(word)
  return not fs.exists(word) and require("clara.cli.commands").find(word) ~= nil
end
scripts.is_command = clara_command

-- script_context(file, opts, who[, schema]): context's paths for a job
-- that runs one clara script (`clara FILE ARGS`), or a clara command
-- (`clara run exp.lua ...`: FILE is the command's word), instead of a
-- battery: ctx.script (absolute; the word of a command), ctx.command,
-- name and job_name from the file's name (a command's: its first
-- argument's), log_dir (default: <the script's directory>/logs; a
-- command's: <workdir>/logs)
function scripts.script_context(file, opts, who, schema)
  if type(file) ~= "string" or file == "" then fail(who .. ": the script's path expected, got " .. type(file)) end
  opts = E.options(who, opts, full_schema(schema, "battery_file"))
  local cwd = lfs.currentdir()
  local ctx = {
    workdir = absolute(opts.workdir or cwd, cwd),
    command = clara_command(file),
    clara = absolute(opts.clara or this_clara(cwd), cwd),
  }
  local named = file
  if ctx.command then
    ctx.script = file
    named = type(opts.args) == "table" and tostring(opts.args[1] or file) or file
  else
    ctx.script = absolute(file, cwd)
  end
  ctx.name = named:match("([^/]*)$"):gsub("%.lua$", "")
  if ctx.name == "" then ctx.name = "clara" end
  local home = ctx.command and ctx.workdir or fs.dirname(ctx.script)
  ctx.log_dir = absolute(opts.log_dir or fs.join(home, "logs"), cwd)
  for _, k in ipairs { "workdir", "script", "clara", "log_dir" } do
    if ctx[k]:find("[%c]") then fail(("%s: the path '%s' holds a control character"):format(who, ctx[k])) end
  end
  ctx.job_name = ctx.name:gsub("[^%w%._%-]", "_")
  return ctx
end

-- entry_lines(ctx): "#    1  batch_size=64,lr=0.01" for each entry
function scripts.entry_lines(ctx)
  local width = #tostring(#ctx.entries)
  local lines = {}
  for i, name in ipairs(ctx.entries) do
    lines[i] = ("#   %" .. width .. "d  %s"):format(i, name)
  end
  return table.concat(lines, "\n")
end

-- fill(template, values): {{KEY}} -> values.KEY; a key left over is a bug
function scripts.fill(template, values)
  local text = template:gsub("{{([%w_]+)}}", function(k)
    local v = values[k]
    if v == nil then fail("clara.scripts.fill: template value '" .. k .. "' missing") end
    return tostring(v)
  end)
  return text
end

function scripts.slurm(b, opts) return require("clara.scripts.slurm")(b, opts) end
function scripts.bash(b, opts) return require("clara.scripts.bash")(b, opts) end
function scripts.slurm_script(file, opts) return require("clara.scripts.slurm").script(file, opts) end

return scripts
