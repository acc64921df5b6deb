-- clara.launch.lines: a rank's output, read from a pipe in pieces of any
-- size, written out whole lines at a time with "[rank k] " before each,
-- so that the lines of several ranks (and of a rank's stdout and stderr)
-- never mix within a line.  A line longer than MAX_LINE bytes is written in
-- pieces of that size, so memory stays bounded.
--
--   local out = lines.new(io.stdout, "[rank 1] ")
--   out:add(chunk) ... out:finish()    -- the last line, even without "\n"
local M = {}

M.MAX_LINE = 1 << 20

local Lines = {}
Lines.__index = Lines

function M.new(file, prefix)
  return setmetatable({ file = file, prefix = prefix, partial = "" }, Lines)
end

-- the text of whole lines, each prefixed, as one write (then flushed: the
-- launcher's stdout may be a pipe, and the next write may be to stderr)
local function emit(self, text)
  local out = {}
  for line in text:gmatch("([^\n]*)\n") do out[#out + 1] = self.prefix .. line .. "\n" end
  self.file:write(table.concat(out))
  self.file:flush()
end

function Lines:add(chunk)
  local text = self.partial .. chunk
  local last = text:match("^.*()\n")   -- anchored: one pass, not one per start
  if last then
    emit(self, text:sub(1, last))
    text = text:sub(last + 1)
  end
  while #text >= M.MAX_LINE do
    emit(self, text:sub(1, M.MAX_LINE) .. "\n")
    text = text:sub(M.MAX_LINE + 1)
  end
  self.partial = text
end

function Lines:finish()
  if self.partial ~= "" then emit(self, self.partial .. "\n") end
  self.partial = ""
end

return M
