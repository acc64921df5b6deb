-- The man page docs/clara.1 cannot drift from the program: every command of
-- stdlib/clara/cli/, every option `clara --help` lists, every CLARA_*
-- variable the code reads and the exit codes the code defines are in it,
-- and groff renders it without a warning.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/man_spec.lua
local fs = require "clara.fs"
local sh = require("spec.helpers.shell").sh

local PAGE = assert(fs.read("docs/clara.1"))

-- the roff source of section NAME (from .SH NAME to the next .SH)
local function section(name)
  local body = PAGE:match("\n%.SH \"?" .. name:gsub("%s", "%%s") .. "\"?\n(.-)\n%.SH ")
  assert(body, "no section " .. name .. " in docs/clara.1")
  return body
end

-- the words .TP entries of a section start with (".B run \fIexp.lua\fP" -> "run")
local function entries(body)
  local set = {}
  for line in body:gmatch("%.TP\n([^\n]+)") do
    for word in line:gsub("\\f[BIRP]", ""):gsub("\\%-", "-"):gsub("^%.[BI]R? ", ""):gmatch("[^%s,\"]+") do
      set[word] = true
    end
  end
  return set
end

-- the commands: every stdlib/clara/cli/<name>.lua (`clara lr-find` is
-- lr_find.lua) but the modules they share, whose header names them
-- ("-- clara.cli.args: ...")
local function commands()
  local list = {}
  for file in require("lfs").dir("stdlib/clara/cli") do
    local name = file:match("^(.+)%.lua$")
    if name then
      local word = name:gsub("_", "-")
      local text = fs.read("stdlib/clara/cli/" .. file)
      if not text:match("^%-%- clara%.cli%." .. name .. ":") then list[#list + 1] = word end
    end
  end
  table.sort(list)
  return list
end

describe("the man page docs/clara.1", function()
  it("has the sections of a man page", function()
    for _, name in ipairs { "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "ENVIRONMENT",
                            "FILES", "EXIT STATUS", "EXAMPLES" } do
      section(name)
    end
    assert.matches('\n%.SH "?SEE ALSO"?\n', PAGE)
  end)

  it("names the version the program reports", function()
    local out = sh("./clara -v")
    local version = assert(out:match("^clara (%S+)"), out)
    assert.matches('\n%.TH CLARA 1 "[^"]*" "clara ' .. version:gsub("%p", "%%%0") .. '"', PAGE)
  end)

  it("renders without a warning", function()
    local out, rc = sh("groff -man -ww -z docs/clara.1")
    assert.equal(0, rc, out)
    assert.equal("", out)
  end)

  it("describes every command of stdlib/clara/cli/", function()
    local list = commands()
    assert.is_true(#list >= 8, "found only: " .. table.concat(list, " "))
    local documented = entries(section("COMMANDS"))
    for _, word in ipairs(list) do
      assert(documented[word], "command '" .. word .. "' (stdlib/clara/cli/) is not in docs/clara.1's COMMANDS")
    end
  end)

  it("describes, in each command's entry, every option of the command's help", function()
    local body, missing, n = section("COMMANDS") .. "\n.TP\n", {}, 0
    for _, word in ipairs(commands()) do
      local entry = body:match("\n%.TP\n%.B " .. word:gsub("%-", "%%-") .. "[ \n](.-)\n%.TP\n")
      assert(entry, "no entry for '" .. word .. "' in docs/clara.1's COMMANDS")
      entry = entry:gsub("\\%-", "-") .. "\n"
      -- `clara WORD --help`: its usage (up to the first blank line) and the
      -- option column of its option lines ("  -j, --jobs N   what it does")
      local help = sh("./clara " .. word .. " --help")
      local options = { help:match("^(.-)\n%s*\n") or help }
      for line in help:gmatch("\n  (%-[^\n]*)") do options[#options + 1] = line:match("^(.-)%s%s") or line end
      for option in table.concat(options, "\n"):gmatch("%-%-[%l][%l%-]*") do
        n = n + 1
        if option ~= "--help" and not entry:find(option:gsub("%-", "%%-") .. "[^%l%-]") then
          missing[#missing + 1] = "clara " .. word .. " " .. option
        end
      end
    end
    assert(#missing == 0, "options missing from their command's entry in docs/clara.1: " .. table.concat(missing, ", "))
    assert.is_true(n >= 40, "only " .. n .. " options found in the commands' help")
  end)

  it("describes every option `clara --help` lists", function()
    local help, rc = sh("./clara --help")
    assert.equal(0, rc, help)
    local documented, n = entries(section("OPTIONS")), 0
    for option in help:gmatch("\n  (%-%-?[%a]*)") do
      n = n + 1
      assert(documented[option], "option '" .. option .. "' of clara --help is not in docs/clara.1's OPTIONS")
    end
    assert.is_true(n >= 10, help)
  end)

  it("names every CLARA_* variable the program, the stdlib and the examples read", function()
    local out = sh([[grep -rhoE 'getenv *\(? *"CLARA_[A-Z0-9_]+"' runtime stdlib examples]])
    local env, n = section("ENVIRONMENT"), 0
    for name in out:gmatch('"(CLARA_[%w_]+)"') do
      n = n + 1
      assert.matches("\n.B " .. name .. "\n", env, 1, true)
    end
    assert.is_true(n >= 3, out)
  end)

  it("gives the exit codes the code defines", function()
    local status = entries(section("EXIT STATUS"))
    for _, code in ipairs { 0, 1, 2, require("clara.signal").REQUEUE, require("clara.battery").BUSY } do
      assert(status[tostring(code)], "exit code " .. code .. " is not in docs/clara.1's EXIT STATUS")
    end
  end)
end)
