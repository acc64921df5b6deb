-- clara.cli.dispatch: what `clara WORD ARGS...` runs when WORD is a bare
-- lowercase word and no file has that name (main.c calls this file with
-- WORD and ARGS): the command's file, clara/cli/<word>.lua, with ARGS as its
-- `...`; or, for a word that names no command, the closest command's name
-- (exit 2).
local commands = require "clara.cli.commands"

local word = ...
local c = commands.find(word)
if not c then
  io.stderr:write("clara: ", commands.unknown(word),
    " (no file has that name either; clara --help lists the commands)\n")
  os.exit(2)
end
local chunk, err = loadfile(assert(commands.path(c), "the file of the command " .. word .. " is missing"))
if not chunk then error(err, 0) end
return chunk(select(2, ...))
