-- clara.run.history: history.csv, one row per epoch (or per evaluation).
-- Columns: epoch, step, split first (when present), then the others in
-- sorted order, so the header does not depend on pairs() order.  A row with
-- a new key widens the table: the file is rewritten with the wider header
-- (earlier rows get empty cells).  Values: numbers written so they read back
-- exactly, booleans as true/false, 1-element tensors as their number.
local history = {}

local FIRST = { epoch = 1, step = 2, split = 3 }

local function key_before(a, b)
  local fa, fb = FIRST[a], FIRST[b]
  if fa and fb then return fa < fb end
  if fa or fb then return fa ~= nil end
  return a < b
end

-- the columns for rows, in a stable order
function history.columns(rows, columns)
  local seen, cols = {}, {}
  for _, c in ipairs(columns or {}) do seen[c] = true; cols[#cols + 1] = c end
  local extra = {}
  for _, row in ipairs(rows) do
    for k in pairs(row) do
      if type(k) ~= "string" then
        require("clara.error").raise("clara.run", "history rows need string keys (column names), got %s", type(k))
      end
      if not seen[k] then seen[k] = true; extra[#extra + 1] = k end
    end
  end
  table.sort(extra, key_before)
  for _, c in ipairs(extra) do cols[#cols + 1] = c end
  return cols
end

local function cell(v)
  if v == nil then return "" end
  if type(v) == "userdata" and v.item then v = v:item() end
  if type(v) == "number" then
    if math.type(v) == "integer" then return string.format("%d", v) end
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    local s = string.format("%.15g", v)
    if tonumber(s) ~= v then s = string.format("%.17g", v) end
    return s
  end
  local s = tostring(v)
  if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

function history.line(cols, row)
  local cells = {}
  for i, c in ipairs(cols) do cells[i] = cell(row[c]) end
  return table.concat(cells, ",") .. "\n"
end

function history.encode(cols, rows)
  local out = { table.concat(cols, ",") .. "\n" }
  for _, row in ipairs(rows) do out[#out + 1] = history.line(cols, row) end
  return table.concat(out)
end

-- one CSV line into cells (quotes as RFC 4180; no newlines inside cells)
local function split_line(line)
  local cells, i, n = {}, 1, #line
  while i <= n + 1 do
    if line:sub(i, i) == '"' then
      local s, j = {}, i + 1
      while true do
        local q = line:find('"', j, true)
        if not q then s[#s + 1] = line:sub(j); j = n + 1; break end
        s[#s + 1] = line:sub(j, q - 1)
        if line:sub(q + 1, q + 1) == '"' then s[#s + 1] = '"'; j = q + 2
        else j = q + 1; break end
      end
      cells[#cells + 1] = table.concat(s)
      i = j + 1
    else
      local c = line:find(",", i, true) or n + 1
      cells[#cells + 1] = line:sub(i, c - 1)
      i = c + 1
    end
  end
  return cells
end

local function value(s)
  if s == "" then return nil end
  if s == "true" then return true elseif s == "false" then return false end
  if s == "nan" then return 0 / 0 end
  return math.tointeger(tonumber(s)) or tonumber(s) or s
end

-- decode(text) -> rows, columns.  A torn last line (a crash during an
-- append) is left out.
function history.decode(text)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  if #lines == 0 then return {}, {} end
  local cols = split_line(lines[1])
  local rows = {}
  for i = 2, #lines do
    local cells = split_line(lines[i])
    if #cells == #cols then
      local row = {}
      for j, c in ipairs(cols) do row[c] = value(cells[j]) end
      rows[#rows + 1] = row
    end
  end
  return rows, cols
end

return history
