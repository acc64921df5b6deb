-- clara.cli.usage: the help texts of the commands, written from their
-- declarations (clara.cli.commands): the usage line, `clara COMMAND
-- --help`, the command list of `clara --help` and `clara help --commands`.
local commands = require "clara.cli.commands"

local M = {}

local WIDTH = 78
local COLUMN = 24   -- where an option's doc starts

-- text cut into lines of at most `width` characters at spaces, each
-- after `indent` spaces
local function wrap(text, indent, width)
  local lines, line = {}, nil
  for word in text:gmatch("%S+") do
    if line and #line + 1 + #word > width - indent then
      lines[#lines + 1] = line
      line = word
    else
      line = line and (line .. " " .. word) or word
    end
  end
  lines[#lines + 1] = line or ""
  return (" "):rep(indent) .. table.concat(lines, "\n" .. (" "):rep(indent))
end
M.wrap = wrap

-- "usage: clara battery b.lua [options]"
function M.line(c)
  -- a passthrough command's options come before the script and its arguments
  if c.passthrough then return ("usage: clara %s [options] %s"):format(c.name, c.args) end
  return ("usage: clara %s %s%s"):format(c.name, c.args, #c.options > 0 and " [options]" or "")
end

-- "-q, --quiet", "--set KEY=VALUE", "--resume[=DIR|FILE]"
local function flag_text(opt)
  local meta = opt[3]
  local text = "--" .. opt[1] .. (meta and (meta:sub(1, 1) == "[" and meta or (" " .. meta)) or "")
  if opt.alias then text = opt.alias .. ", " .. text end
  return text
end

-- the option's lines: flag, doc (wrapped at COLUMN), its example
local function option_text(opt)
  local head = "  " .. flag_text(opt)
  local doc = wrap(opt[4] .. (opt[2] == "list" and not opt[4]:find("repeatable") and " (repeatable)" or ""),
                   COLUMN, WIDTH)
  if #head + 2 <= COLUMN then
    doc = head .. doc:sub(#head + 1)
  else
    doc = head .. "\n" .. doc
  end
  return doc .. "\n" .. (" "):rep(COLUMN) .. "example: " .. opt.example
end

-- help(c) -> the whole help of the command
function M.help(c)
  local out = { M.line(c), "", wrap(c.about, 0, WIDTH), "", "options:" }
  for _, opt in ipairs(c.options) do out[#out + 1] = option_text(opt) end
  out[#out + 1] = "  -h, --help" .. (" "):rep(COLUMN - 12) .. "this help"
  return table.concat(out, "\n")
end

-- overview() -> one line per command, for `clara --help`
function M.overview()
  local out = {}
  for _, c in ipairs(commands.list) do
    out[#out + 1] = ("  %-10s %s"):format(c.name, c.line)
  end
  return table.concat(out, "\n") .. "\n"
end

-- tabbed() -> "name<TAB>line" per command, for the man page and docs
function M.tabbed()
  local out = {}
  for _, c in ipairs(commands.list) do out[#out + 1] = c.name .. "\t" .. c.line end
  return table.concat(out, "\n") .. "\n"
end

return M
