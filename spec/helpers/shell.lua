-- Running a command line from a spec: sh(cmd) -> its output (stdout and
-- stderr together) and its exit code.  Not a spec itself (no "_spec").
--
--   local sh = require("spec.helpers.shell").sh      -- run from the repo root
--   local text, rc = sh("./clara analyze exp.lua --input 4")
local M = {}

function M.sh(cmd)
  local p = io.popen("{ " .. cmd .. "; } 2>&1; echo \"rc=$?\"")
  local out = p:read("a"); p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return (out:gsub("rc=%d+%s*$", "")), rc
end

return M
