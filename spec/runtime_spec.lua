-- The clara command: its command line (lua 5.4's), errors, module paths and
-- preloaded globals.  Runs ./clara (or $CLARA) from the repository root.
local lfs = require "lfs"

local CLARA = os.getenv("CLARA") or "./clara"

local function quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local temps = {}
local function tmpname()
  local name = os.tmpname()
  temps[#temps + 1] = name
  return name
end

-- run(args [, stdin [, env]]): stdout, stderr, exit code of clara.  args is
-- a list of words, quoted here; env a string put before the command.
local function run(args, stdin, env)
  local out, err, input = tmpname(), tmpname(), tmpname()
  writefile(input, stdin or "")
  local words = {}
  for i, a in ipairs(args) do words[i] = quote(a) end
  local cmd = string.format("%s %s %s <%s >%s 2>%s", env or "", quote(CLARA),
                            table.concat(words, " "), input, out, err)
  local _, _, code = os.execute(cmd)
  return readfile(out), readfile(err), code
end

-- the directory of the clara binary, symbolic links resolved
local function bindir()
  local p = assert(io.popen('dirname "$(readlink -f ' .. quote(CLARA) .. ')"'))
  local dir = p:read("l")
  p:close()
  return dir
end

local function script(text)
  local path = tmpname()
  writefile(path, text)
  return path
end

teardown(function()
  for _, name in ipairs(temps) do os.remove(name) end
end)

describe("clara's command line", function()
  it("builds arg as lua.c does", function()
    local s = script([[
      for i = -3, #arg do io.write(i, "=", tostring(arg[i]), " ") end
      print("|", select("#", ...), ...)
    ]])
    local out, err, code = run({"-e", "x=1", s, "a", "b c"})
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal(("-3=%s -2=-e -1=x=1 0=%s 1=a 2=b c |\t2\ta\tb c\n")
                     :format(CLARA, s), out)
  end)

  it("gives arg[0] = clara and the options at 1.. with no script", function()
    local out = run({"-e", "print(arg[0], arg[1], arg[2], #arg)"})
    assert.are.equal(CLARA .. "\t-e\tprint(arg[0], arg[1], arg[2], #arg)\t2\n", out)
  end)

  it("runs -e chunks in order, then the script", function()
    local s = script("print(x + 1)")
    local out, _, code = run({"-e", "x = 41", "-e", "io.write('e ')", s})
    assert.are.equal(0, code)
    assert.are.equal("e 42\n", out)
  end)

  it("loads -l mod into a global, and -l g=mod into g", function()
    local out, err, code = run({"-l", "lfs", "-lJ=cjson",
                                "-e", "print(type(lfs.attributes), J.encode({1, 2}))"})
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal("function\t[1,2]\n", out)
  end)

  it("runs '-' from stdin with the following arguments", function()
    local out, _, code = run({"-", "p", "q"}, 'print("stdin", ...)')
    assert.are.equal(0, code)
    assert.are.equal("stdin\tp\tq\n", out)
  end)

  it("runs stdin when there is no script and stdin is not a terminal", function()
    local out, _, code = run({}, "print(6 * 7)")
    assert.are.equal(0, code)
    assert.are.equal("42\n", out)
  end)

  it("stops handling options at '--'", function()
    local s = script("print(...)")
    local out = run({"--", s, "-e", "x"})
    assert.are.equal("-e\tx\n", out)
  end)

  it("prints its version with -v and --version", function()
    for _, opt in ipairs({"-v", "--version"}) do
      local out, _, code = run({opt})
      assert.are.equal(0, code)
      assert.matches("^clara 0%.1%.0", out)
      assert.matches("Lua 5%.4", out)
      assert.matches("libtorch", out)
    end
  end)

  it("prints a usage text with --help", function()
    local out, _, code = run({"--help"})
    assert.are.equal(0, code)
    assert.matches("usage: ", out, 1, true)
    assert.matches("-e stat", out, 1, true)
    assert.matches("-l g=mod", out, 1, true)
  end)

  it("rejects an unknown option with the usage and status 1", function()
    local out, err, code = run({"-x"})
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("unrecognized option '-x'", err, 1, true)
    assert.matches("usage: ", err, 1, true)
    _, err, code = run({"-e"})
    assert.are.equal(1, code)
    assert.matches("'-e' needs argument", err, 1, true)
  end)

  it("turns warnings on with -W", function()
    local _, err = run({"-W", "-e", "warn('careful')"})
    assert.matches("careful", err, 1, true)
    _, err = run({"-e", "warn('careful')"})
    assert.are.equal("", err)
  end)

  it("runs LUA_INIT, unless -E", function()
    local env = "LUA_INIT='print(\"init ran\")'"
    local out = run({"-e", "print('main')"}, nil, env)
    assert.are.equal("init ran\nmain\n", out)
    out = run({"-E", "-e", "print('main')"}, nil, env)
    assert.are.equal("main\n", out)
  end)

  it("passes os.exit's status through", function()
    local _, _, code = run({"-e", "os.exit(3)"})
    assert.are.equal(3, code)
  end)
end)

describe("clara's errors", function()
  it("prints a runtime error with a traceback on stderr, status 1", function()
    local s = script("local function inner() error('boom') end\ninner()\n")
    local out, err, code = run({s})
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches(s .. ":1: boom", err, 1, true)
    assert.matches("stack traceback:", err, 1, true)
    assert.matches("in local 'inner'", err, 1, true)
  end)

  it("prints a syntax error on stderr, status 1", function()
    local s = script("x = = 1\n")
    local out, err, code = run({s})
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches(s .. ":1: unexpected symbol near '='", err, 1, true)
  end)

  it("describes error objects that are not strings", function()
    local _, err, code = run({"-e", "error(setmetatable({}, {__tostring = function() return 'custom' end}))"})
    assert.are.equal(1, code)
    assert.matches("custom", err, 1, true)
    _, err = run({"-e", "error({})"})
    assert.matches("(error object is a table value)", err, 1, true)
  end)

  it("reports a missing script", function()
    local _, err, code = run({"/nonexistent/script.lua"})
    assert.are.equal(1, code)
    assert.matches("cannot open /nonexistent/script.lua", err, 1, true)
  end)
end)

describe("clara's modules and globals", function()
  it("finds Debian's Lua modules (lfs, cjson)", function()
    local out, err = run({"-e", "print(require('lfs').currentdir ~= nil, require('cjson').encode({a = 1}))"})
    assert.are.equal("", err)
    assert.are.equal('true\t{"a":1}\n', out)
    -- and so does this very process, busted running inside clara
    assert.is_function(require("cjson").decode)
  end)

  it("searches the stdlib next to the binary first", function()
    local out = run({"-e", "print(package.path)"})
    local dir = bindir()
    assert.are.equal(dir .. "/stdlib/?.lua;" .. dir .. "/stdlib/?/init.lua",
                     out:match("^[^;]*;[^;]*"))
  end)

  it("loads libtorch only when a script first uses it", function()
    local out, err, code = run({"-e", [[
      local function mapped()
        for l in io.lines("/proc/self/maps") do if l:find("libtorch_cpu", 1, true) then return true end end
        return false
      end
      local x = 1 + 1
      print(mapped(), package.loaded["torch.core"] ~= nil)
      local t = torch.ones(2)
      print(mapped(), package.loaded["torch.core"] ~= nil, t:sum():item())]]})
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal("false\tfalse\ntrue\ttrue\t2.0\n", out)
    -- -v names the libtorch the build saw without loading it
    out, err, code = run({"-v"})
    assert.are.equal(0, code)
    assert.matches("libtorch 1%.13", out)
  end)

  it("preloads torch, nn, optim and clara, the same tables require gives", function()
    local out, err, code = run({"-e", [[
      print(type(torch), type(nn), type(optim), type(clara))
      print(require "torch" == torch, require "torch.nn" == nn,
            require "torch.optim" == optim, require "clara" == clara)
      print(package.loaded["torch.core"] ~= nil)]]})
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal("table\ttable\ttable\ttable\ntrue\ttrue\ttrue\ttrue\ntrue\n", out)
    assert.is_table(torch)
    assert.is_table(nn)
    assert.is_table(optim)
    assert.is_table(clara)
  end)
end)

describe("a #!/usr/bin/env clara script", function()
  it("runs when clara is on PATH", function()
    local dir = tmpname()
    os.remove(dir)
    assert(lfs.mkdir(dir))
    local path = dir .. "/hello"
    writefile(path, "#!/usr/bin/env clara\nprint('hello from', arg[0], ...)\n")
    assert(os.execute("chmod +x " .. quote(path)))
    local out = tmpname()
    local _, _, code = os.execute(("PATH=%s:\"$PATH\" %s world >%s 2>&1")
                                  :format(quote(bindir()), quote(path), out))
    local text = readfile(out)
    os.remove(path)
    lfs.rmdir(dir)
    assert.are.equal(0, code)
    assert.are.equal("hello from\t" .. path .. "\tworld\n", text)
  end)
end)

describe("the REPL without a terminal (-i)", function()
  it("prints results without '=', tab-separated, and not after ';'", function()
    local out, err, code = run({"-i"}, "1 + 1\n'a', 2\n3;\nfunction f()\nreturn 9\nend\nf()\n")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.matches("^clara 0%.1%.0[^\n]*\n", out)
    local transcript = out:gsub("^[^\n]*\n", "")
    assert.are.equal("> 2\n> a\t2\n> > >> >> > 9\n> \n", transcript)
  end)

  it("reports errors and goes on", function()
    local out, err = run({"-i"}, "error('bad')\nprint('next')\n")
    assert.matches("stdin:1: bad", err, 1, true)
    assert.matches("next", out, 1, true)
  end)

  it("reports a chunk left incomplete at the end of input", function()
    local _, err = run({"-i"}, "for i = 1, 2 do\n")
    assert.matches("'end' expected", err, 1, true)
  end)
end)
