-- clara.run.json: JSON for run files that people read and diff: keys
-- sorted, two-space indentation.  cjson decodes; it cannot sort keys.
-- Values JSON lacks are written as what they mean: a 0-dim (or 1-element)
-- tensor as its number, other tensors as nested lists, NaN and infinities
-- as Python's json writes them (NaN, Infinity; cjson and Python read them
-- back), functions and other objects as their tostring description.
local cjson = require "cjson"

local json = {}

local function is_tensor(v)
  return type(v) == "userdata" and getmetatable(v) and getmetatable(v).__name == "torch.Tensor"
end

local function number(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "Infinity" end
  if v == -math.huge then return "-Infinity" end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%.1f", v) end
  local s = string.format("%.15g", v)
  if tonumber(s) ~= v then s = string.format("%.17g", v) end
  return s
end

-- a table with keys exactly 1..n (n > 0) is a list
local function is_list(t)
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function encode(v, indent, seen, out)
  local tv = type(v)
  if v == nil or v == cjson.null then out[#out + 1] = "null"
  elseif tv == "boolean" then out[#out + 1] = tostring(v)
  elseif tv == "number" then out[#out + 1] = number(v)
  elseif tv == "string" then out[#out + 1] = cjson.encode(v)
  elseif is_tensor(v) then
    if v:numel() == 1 then out[#out + 1] = number(v:item())
    else encode(v:totable(), indent, seen, out) end
  elseif tv == "table" and not (getmetatable(v) and getmetatable(v).__tostring and getmetatable(v).__name ~= "torch.Size") then
    if seen[v] then error("clara.run.json: a table contains itself", 0) end
    seen[v] = true
    local inner = indent .. "  "
    local flat = is_list(v)
    for i = 1, flat and #v or 0 do
      if type(v[i]) == "table" or type(v[i]) == "userdata" then flat = false; break end
    end
    if flat then   -- a list of plain values reads best on one line
      for i = 1, #v do
        out[#out + 1] = i == 1 and "[" or ", "
        encode(v[i], inner, seen, out)
      end
      out[#out + 1] = "]"
    elseif is_list(v) then
      out[#out + 1] = "[\n"
      for i = 1, #v do
        out[#out + 1] = inner
        encode(v[i], inner, seen, out)
        out[#out + 1] = i < #v and ",\n" or "\n"
      end
      out[#out + 1] = indent .. "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      if #keys == 0 then out[#out + 1] = "{}" else
        out[#out + 1] = "{\n"
        for i, k in ipairs(keys) do
          local x = v[k]
          if x == nil then x = v[tonumber(k)] end
          out[#out + 1] = inner .. cjson.encode(k) .. ": "
          encode(x, inner, seen, out)
          out[#out + 1] = i < #keys and ",\n" or "\n"
        end
        out[#out + 1] = indent .. "}"
      end
    end
    seen[v] = nil
  else
    out[#out + 1] = cjson.encode(tostring(v))
  end
end

function json.encode(v)
  local out = {}
  encode(v, "", {}, out)
  out[#out + 1] = "\n"
  return table.concat(out)
end

-- decode, with JSON null as Lua nil (a run file's reader wants plain tables)
local function denull(v)
  if v == cjson.null then return nil end
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = denull(x) end
  end
  return v
end

function json.decode(s)
  local ok, v = pcall(cjson.decode, s)
  if not ok then error((tostring(v):gsub("^[^:]*:%d+: ", "")), 2) end
  return denull(v)
end

return json
