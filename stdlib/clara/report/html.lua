-- clara.report.html: one self-contained HTML page from a list of blocks.
-- Images are embedded as base64 data: URIs and the style sheet is inline,
-- so the page opens anywhere (mail, an archive, a browser with no network).
--
-- Blocks (the section builders make them, this file only draws them):
--   {kind = "h2" | "h3", text =}         {kind = "p", text =}
--   {kind = "table", caption =, cols = {...}, rows = {{cell, ...}}, numeric_from =, collapsed =}
--   {kind = "figures", items = {{caption =, png =, svg =}}}   (paths of the images)
--   {kind = "list", items = {text, ...}}   {kind = "pre", caption =, text =}
local fs = require "clara.fs"
local E = require "clara.error"

local html = {}

-- the marker that tells clara.report a directory is one of its reports
html.GENERATOR = "clara report"

function html.escape(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                                          ['"'] = "&quot;", ["'"] = "&#39;" }))
end
local esc = html.escape

-- {==================== base64 (RFC 4648) ====================
local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local CHARS = {}
for i = 1, 64 do CHARS[i - 1] = ALPHABET:sub(i, i) end

function html.base64(s)
  local out, n = {}, #s
  for i = 1, n - 2, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a << 16 | b << 8 | c
    out[#out + 1] = CHARS[v >> 18] .. CHARS[v >> 12 & 63] .. CHARS[v >> 6 & 63] .. CHARS[v & 63]
  end
  local rest = n % 3
  if rest == 1 then
    local v = s:byte(n) << 16
    out[#out + 1] = CHARS[v >> 18] .. CHARS[v >> 12 & 63] .. "=="
  elseif rest == 2 then
    local a, b = s:byte(n - 1, n)
    local v = a << 16 | b << 8
    out[#out + 1] = CHARS[v >> 18] .. CHARS[v >> 12 & 63] .. CHARS[v >> 6 & 63] .. "="
  end
  return table.concat(out)
end
-- }====================

local MIME = { png = "image/png", svg = "image/svg+xml" }

-- an image file as a data: URI
function html.data_uri(path, format)
  local bytes = fs.read(path)
  if not bytes then E.raise(nil, ("clara.report: cannot read the chart '%s'"):format(path)) end
  return ("data:%s;base64,%s"):format(MIME[format], html.base64(bytes))
end

local STYLE = [[
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1400px;
       padding: 0 16px; color: #222; background: #fff; }
h1 { font-size: 1.6em; border-bottom: 2px solid #1f77b4; padding-bottom: 4px; }
h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.1em; margin-top: 1.2em; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9em; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f0f4f8; text-align: left; }
.wide { overflow-x: auto; max-width: 100%; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.failed td { background: #fdecea; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; border: 1px solid #e3e3e3; padding: 6px; max-width: 100%; }
figure img { display: block; max-width: 100%; width: 560px; height: auto; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; font-size: 0.85em; }
details summary { cursor: pointer; font-weight: bold; margin: 6px 0; }
.error { color: #a61b1b; white-space: pre-wrap; }
footer { margin-top: 2em; font-size: 0.8em; color: #777; }
]]

local function table_html(b)
  local out = { "<table>" }
  -- a collapsible table's caption is its <summary>
  if b.caption and b.collapsed == nil then out[#out + 1] = "<caption>" .. esc(b.caption) .. "</caption>" end
  local head = {}
  for i, c in ipairs(b.cols) do head[i] = "<th>" .. esc(c) .. "</th>" end
  -- a table of facts (no column names) has no header row
  if table.concat(b.cols) ~= "" then out[#out + 1] = "<thead><tr>" .. table.concat(head) .. "</tr></thead>" end
  out[#out + 1] = "<tbody>"
  local from = b.numeric_from or 2
  for _, row in ipairs(b.rows) do
    local cells = {}
    for i = 1, #b.cols do
      local v = row[i]
      cells[i] = (i >= from and "<td class=\"num\">" or "<td>") .. esc(v == nil and "" or v) .. "</td>"
    end
    out[#out + 1] = (row.class and ("<tr class=\"" .. esc(row.class) .. "\">") or "<tr>")
                    .. table.concat(cells) .. "</tr>"
  end
  out[#out + 1] = "</tbody></table>"
  -- a wide table scrolls in its own box instead of widening the page
  local text = "<div class=\"wide\">" .. table.concat(out, "\n") .. "</div>"
  if b.collapsed ~= nil then
    text = ("<details%s><summary>%s</summary>\n%s\n</details>"):format(b.collapsed and "" or " open",
      esc(b.caption or "table"), text)
  end
  return text
end

local function figures_html(b, embed)
  local out = { "<div class=\"figures\">" }
  for _, f in ipairs(b.items) do
    local format = f[embed] and embed or (f.png and "png" or "svg")
    -- (no figcaption: the chart's title says it)
    out[#out + 1] = ("<figure><img alt=\"%s\" src=\"%s\"></figure>")
      :format(esc(f.caption or ""), html.data_uri(f[format], format))
  end
  out[#out + 1] = "</div>"
  return table.concat(out, "\n")
end

local DRAW = {
  h2 = function(b) return "<h2>" .. esc(b.text) .. "</h2>" end,
  h3 = function(b) return "<h3>" .. esc(b.text) .. "</h3>" end,
  p = function(b) return "<p>" .. esc(b.text) .. "</p>" end,
  table = table_html,
  figures = figures_html,
  list = function(b)
    local items = {}
    for i, t in ipairs(b.items) do
      items[i] = type(t) == "table"
        and ("<li><b>%s</b>: <span class=\"error\">%s</span></li>"):format(esc(t[1]), esc(t[2]))
        or "<li>" .. esc(t) .. "</li>"
    end
    return "<ul>\n" .. table.concat(items, "\n") .. "\n</ul>"
  end,
  pre = function(b)
    local text = "<pre>" .. esc(b.text) .. "</pre>"
    if b.caption then text = ("<details><summary>%s</summary>\n%s\n</details>"):format(esc(b.caption), text) end
    return text
  end,
}

-- page(title, blocks, {embed = "png" | "svg", sources = {dirs}}) -> HTML text
function html.page(title, blocks, opts)
  opts = opts or {}
  local out = {
    "<!DOCTYPE html>",
    "<html lang=\"en\"><head><meta charset=\"utf-8\">",
    ("<meta name=\"generator\" content=\"%s\">"):format(html.GENERATOR),
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    "<title>" .. esc(title) .. "</title>",
    "<style>" .. STYLE .. "</style>",
    "</head><body>",
    "<h1>" .. esc(title) .. "</h1>",
  }
  for _, b in ipairs(blocks) do
    local draw = DRAW[b.kind]
    if not draw then E.raise(nil, "clara.report.html: unknown block kind '" .. tostring(b.kind) .. "'") end
    out[#out + 1] = draw(b, opts.embed or "png")
  end
  out[#out + 1] = ("<footer>Written by clara %s from %s. Each chart's data (.dat), gnuplot script (.gp), "
    .. "PNG and SVG are next to this page.</footer>")
    :format(esc(require("clara").version), esc(table.concat(opts.sources or {}, ", ")))
  out[#out + 1] = "</body></html>"
  return table.concat(out, "\n") .. "\n"
end

return html
