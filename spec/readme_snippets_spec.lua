-- Every fenced code block of the README and of docs/ runs, so the documents
-- cannot drift from the code.  Each document gets one scratch directory
-- holding `clara` and `examples/` (links to this tree); its blocks run there
-- in document order, lua blocks through ./clara and sh blocks through bash -e,
-- each in a fresh process unless marked `<!-- continues -->`.  How a block
-- is marked (setup, file, checked-by, output) is explained in
-- spec/helpers/snippets.lua and docs/README.md.
local snippets = require "spec.helpers.snippets"
local sh = require("spec.helpers.shell").sh
local fs = require "clara.fs"
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")

local DOCS = { "README.md", "docs/tutorial.md", "docs/design.md", "docs/nn.md", "docs/images.md",
               "docs/search.md", "docs/README.md" }
local TIMEOUT = 300   -- seconds for one block: a hang fails, it does not stall the suite
local ROOT = sh("pwd"):gsub("%s+$", "")

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function write(path, text)
  fs.mkdir_p(path:match("^(.*)/[^/]*$"))
  local f = assert(io.open(path, "w")); f:write(text); f:close()
end

local function syntax(lang, source, work, name)
  if lang == "lua" then
    local ok, err = load(source, "=" .. name)
    assert(ok, err)
  else
    local file = work .. "/.snippets/" .. name .. ".sh"
    write(file, source)
    local out, rc = sh("bash -n " .. quote(file))
    assert(rc == 0, out)
  end
end

-- the end of a long output, where an error is
local function tail(out)
  local lines = {}
  for l in out:gmatch("[^\n]*") do lines[#lines + 1] = l end
  return table.concat(lines, "\n", math.max(1, #lines - 40))
end

local function run(lang, source, work, name, output)
  local file = ".snippets/" .. name .. (lang == "lua" and ".lua" or ".sh")
  write(work .. "/" .. file, source)
  local runner = lang == "lua" and "./clara " or "bash -e -o pipefail "
  local out, rc = sh(("cd %s && CLARA_REPO=%s timeout %d %s%s </dev/null"):format(quote(work), quote(ROOT), TIMEOUT, runner, file))
  assert(rc == 0, ("%s exited %s:\n%s"):format(name, tostring(rc), tail(out)))
  if output then
    local miss = snippets.missing_line(snippets.text_of(output.code), out)
    assert(not miss, ("%s: the output block's line %q is not in the output:\n%s"):format(name, miss or "", out))
  end
end

for _, doc in ipairs(DOCS) do
  describe(doc, function()
    local units, errors = snippets.units(doc)
    local base = doc:gsub("/", "_")
    local work

    setup(function()
      work = tmpdir()
      assert(os.execute(("ln -s %s/clara %s/examples %s/"):format(quote(ROOT), quote(ROOT), quote(work))))
    end)
    teardown(cleanup)

    it("marks every block as the convention says", function()
      assert.same({}, errors)
    end)

    for _, u in ipairs(units) do
      local name = ("%s@%d"):format(base, u.line)
      it(("%s:%d (%s %s)"):format(doc, u.line, u.lang, u.kind), function()
        if u.kind == "file" then
          if u.lang == "lua" then syntax("lua", u.content, work, u.name) end
          write(work .. "/" .. u.name, u.content)
        elseif u.kind == "checked" then
          assert(u.path and fs.exists(ROOT .. "/" .. u.path),
            ("checked-by names %s, which is not in the repository"):format(tostring(u.path)))
          syntax(u.lang, u.source, work, name)
          if u.instead then run(u.lang, u.instead, work, name) end
        else
          run(u.lang, u.source, work, name, u.output)
        end
      end)
    end
  end)
end

-- the convention itself: a wrong mark fails, a chain keeps the document's lines
describe("the snippet convention", function()
  local function parse(text)
    local path = os.tmpname()
    local f = assert(io.open(path, "w")); f:write(text); f:close()
    local units, errors = snippets.units(path)
    os.remove(path)
    return units, errors
  end

  it("refuses a fence without a language and a marker that is not before a fence", function()
    local _, errors = parse("```\nx\n```\n<!-- continues -->\nprose\n```lua\nprint(1)\n```\n")
    assert.equal(2, #errors)
    assert.truthy(errors[1]:find(":1: a fenced block needs a language", 1, true))
    assert.truthy(errors[2]:find(":4: marker 'continues' is not directly before", 1, true))
  end)

  it("chains a continued block into one source whose lines are the document's", function()
    local units, errors = parse("```lua\nlocal a = 1\n```\n\n<!-- continues -->\n"
      .. "<!-- setup\nlocal b = 2\n-->\n```lua\nprint(a + b)\n```\n")
    assert.same({}, errors)
    assert.equal(1, #units)
    assert.equal("\nlocal a = 1\n\n\n\n\nlocal b = 2\n\n\nprint(a + b)\n", units[1].source)
    assert.equal(9, units[1].line)
  end)

  it("reads file, checked-by (with its cheaper body) and output marks", function()
    local units, errors = parse("<!-- file: a.lua -->\n```lua\nreturn 1\n```\n"
      .. "<!-- checked-by: tests/run.sh\necho cheap\n-->\n```sh\nmake test\n```\n"
      .. "```sh\necho 3.5 done\n```\n<!-- output -->\n```text\n7 done\n```\n")
    assert.same({}, errors)
    assert.equal("file", units[1].kind); assert.equal("a.lua", units[1].name)
    assert.equal("checked", units[2].kind); assert.equal("tests/run.sh", units[2].path)
    assert.truthy(units[2].instead:find("echo cheap", 1, true))
    assert.equal("run", units[3].kind); assert.truthy(units[3].output)
  end)

  it("compares outputs with numbers masked, in order", function()
    assert.is_nil(snippets.missing_line("loss 0.5\nacc 1", "epoch 1\nloss 2.25e-3\nacc 0.75\n"))
    assert.equal("loss 0.5", snippets.missing_line("acc 1\nloss 0.5", "loss 2\nacc 3\n"))   -- out of order
    assert.equal("tensor(3)", snippets.missing_line("tensor(3)", "3\n"))
  end)
end)
