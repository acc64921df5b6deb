-- `clara help [COMMAND] [--commands]`: what a command does and every option
-- it takes, with an example (the same text as `clara COMMAND --help`); with
-- no COMMAND the commands, one line each; --commands prints them as
-- name<TAB>line, for the man page and docs to be checked against.
local commands = require "clara.cli.commands"
local usage = require "clara.cli.usage"
local cmd = require("clara.cli.args").command("help")

local function main(...)
  local o, rest = cmd:parse({ ... })
  if o.commands then io.write(usage.tabbed()); return 0 end
  if #rest == 0 then
    io.write("usage: clara COMMAND [options]   (clara --help: the lua-compatible options too)\n",
      "commands:\n", usage.overview(), "clara help COMMAND: a command's every option, with an example\n")
    return 0
  end
  local word = cmd:single(rest, "command")
  local c = commands.find(word)
  if not c then cmd:die(commands.unknown(word)) end
  -- the command's own --help: the same text, and what the command adds
  local chunk = assert(loadfile(commands.path(c)))
  chunk("--help")
end

cmd:main(main, ...)
