-- `clara tests/slurm/search_table.lua BATTERY_DIR`: a search's outcome as
-- text, one line per trial (its settings, state, epochs and the value at
-- each rung, exactly), for tests/slurm_test.sh to compare two searches
local fs = require "clara.fs"
local json = require "clara.run.json"
local st = json.decode(assert(fs.read(fs.join(arg[1], "search", "state.json")), "no search state in " .. arg[1]))
for _, t in ipairs(st.trials) do
  local values = {}
  for k, v in ipairs(t.values) do values[k] = ("%.17g"):format(v) end
  print(("trial %d lr=%.17g %s epochs=%d values=%s"):format(t.id, t.params.lr, t.state, t.epochs,
    table.concat(values, ",")))
end
print(("jobs %d, epochs %d"):format(#st.jobs, st.epochs))
