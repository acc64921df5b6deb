-- The fenced code blocks of a Markdown file, as spec/readme_snippets_spec.lua
-- runs them.  Not a spec itself (no "_spec" in the name).
--
--   local snippets = require "spec.helpers.snippets"   -- run from the repo root
--   local units, errors = snippets.units("README.md")
--
-- The convention (docs/README.md and the top of the spec say it for writers):
-- every fence opens with a language, lua, sh, bash or text.  HTML comments
-- directly before a fence (blank lines between are allowed, nothing else)
-- say how it runs; each is `<!-- KEY -->`, `<!-- KEY: ARG -->`, or a KEY line
-- followed by a body and a closing `-->` line:
--   continues        run in the same process as the previous block of its language
--   setup  (body)    code run first, out of sight (the variables a fragment uses)
--   file: NAME       not run: written to NAME for later blocks (lua: compiled)
--   checked-by: PATH not run, its syntax checked; PATH (a spec or test of the
--                    repository) runs it for real; the body, if any, runs instead
--   output           (a text block) what the previous run printed: each line must
--                    appear in order, numbers masked
-- Text blocks without `output` are not run (file trees, listings).
local M = {}

local KEYS = { continues = true, setup = true, file = true, ["checked-by"] = true, output = true }
local LANGS = { lua = "lua", sh = "sh", bash = "sh", text = "text" }

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- one marker comment starting at lines[i]: its key, argument, body lines
-- ({line number, text} pairs) and the index of its last line
local function marker(lines, i)
  local head = lines[i]:match("^<!%-%-%s*(.-)%s*$")
  local single = head:match("^(.-)%s*%-%->$")
  local key, arg = (single or head):match("^([%w%-]+):?%s*(.-)%s*$")
  if not key or not KEYS[key] then return nil end
  local m = { key = key, arg = arg ~= "" and arg or nil, line = i, body = {} }
  if single then return m, i end
  for j = i + 1, #lines do
    if lines[j]:match("^%s*%-%->%s*$") then return m, j end
    m.body[#m.body + 1] = { j, lines[j] }
  end
  return nil, nil, ("line %d: marker '%s' is never closed with '-->'"):format(i, key)
end

-- the blocks of a file, each {lang, line (of the fence), code = {{n, text}...}, marks = {key = marker}}
function M.blocks(path)
  local lines = {}
  for l in io.lines(path) do lines[#lines + 1] = l end
  local blocks, errors, pending = {}, {}, {}
  local i = 1
  while i <= #lines do
    local l = lines[i]
    local fence = l:match("^```(.-)%s*$")
    if fence then
      local b = { lang = LANGS[fence], line = i, code = {}, marks = pending, file = path }
      if not b.lang then
        errors[#errors + 1] = ("%s:%d: a fenced block needs a language: lua, sh, bash or text (got '%s')")
          :format(path, i, fence)
      end
      pending = {}
      i = i + 1
      while i <= #lines and not lines[i]:match("^```%s*$") do
        b.code[#b.code + 1] = { i, lines[i] }
        i = i + 1
      end
      blocks[#blocks + 1] = b
    elseif l:match("^<!%-%-") then
      local m, last, err = marker(lines, i)
      if err then errors[#errors + 1] = path .. ":" .. err end
      if m then pending[m.key] = m end
      i = last or i
    elseif trim(l) ~= "" and next(pending) then
      local key, m = next(pending)
      errors[#errors + 1] = ("%s:%d: marker '%s' is not directly before a fenced block")
        :format(path, m.line, key)
      pending = {}
    end
    i = i + 1
  end
  return blocks, errors
end

-- source whose line n is line n of the Markdown file, so that an error's
-- line number is the document's
local function aligned(pieces)
  local out, at = {}, 0
  for _, piece in ipairs(pieces) do
    for _, nl in ipairs(piece) do
      while at < nl[1] - 1 do out[#out + 1] = ""; at = at + 1 end
      out[#out + 1] = nl[2]; at = nl[1]
    end
  end
  return table.concat(out, "\n") .. "\n"
end
M.aligned = aligned

local function text_of(code)
  local t = {}
  for _, nl in ipairs(code) do t[#t + 1] = nl[2] end
  return table.concat(t, "\n") .. "\n"
end
M.text_of = text_of

-- Units to run, in document order:
--   {kind = "run", lang, line, source, blocks = {...}, output = text block or nil}
--   {kind = "file", lang, line, name, content}
--   {kind = "checked", lang, line, path, source (its code), instead (source or nil)}
-- A chain (continues) is one run unit: its last block's line names it.
function M.units(path)
  local blocks, errors = M.blocks(path)
  local units, last_run, last_code = {}, {}, nil
  for _, b in ipairs(blocks) do
    local mk = b.marks
    if b.lang == "text" then
      if mk.output then
        if not last_code or last_code.kind ~= "run" then
          errors[#errors + 1] = ("%s:%d: an output block must follow a block that runs"):format(path, b.line)
        else
          last_code.output = b
        end
      end
    elseif b.lang then
      if mk.file then
        units[#units + 1] = { kind = "file", lang = b.lang, line = b.line, name = mk.file.arg,
                              content = text_of(b.code) }
        last_code = units[#units]
      elseif mk["checked-by"] then
        local c = mk["checked-by"]
        units[#units + 1] = { kind = "checked", lang = b.lang, line = b.line, path = c.arg,
                              source = text_of(b.code),
                              instead = #c.body > 0 and aligned{ c.body } or nil }
        last_code = units[#units]
      else
        local pieces = { mk.setup and mk.setup.body or {}, b.code }
        local prev = last_run[b.lang]
        if mk.continues then
          if not prev then
            errors[#errors + 1] = ("%s:%d: 'continues' but no %s block before it"):format(path, b.line, b.lang)
          else
            for _, p in ipairs(pieces) do prev.pieces[#prev.pieces + 1] = p end
            prev.line = b.line
            prev.source = aligned(prev.pieces)
            last_code = prev
          end
        else
          local u = { kind = "run", lang = b.lang, line = b.line, pieces = pieces }
          u.source = aligned(pieces)
          units[#units + 1] = u
          last_run[b.lang] = u
          last_code = u
        end
      end
    end
  end
  return units, errors
end

-- numbers (and runs of them) become '#', blanks are squeezed: what an output
-- block and a real output are compared on
function M.mask(s)
  s = s:gsub("[-+]?%d[%d%.]*[eE][-+]?%d+", "#"):gsub("[-+]?%d[%d%.]*", "#")
  return trim((s:gsub("%s+", " ")))
end

-- nil when every non-blank line of `expected` is in `actual`, in order; else
-- the first line not found
function M.missing_line(expected, actual)
  local got = {}
  for l in (actual .. "\n"):gmatch("(.-)\n") do got[#got + 1] = M.mask(l) end
  local at = 1
  for l in (expected .. "\n"):gmatch("(.-)\n") do
    local want = M.mask(l)
    if want ~= "" then
      local found
      for k = at, #got do
        if got[k]:find(want, 1, true) then found = k; break end
      end
      if not found then return l end
      at = found + 1
    end
  end
  return nil
end

return M
