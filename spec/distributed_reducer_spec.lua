-- torch.distributed.Reducer (DDP's reducer: gradients averaged bucket by
-- bucket while backward runs) on real ranks, against plain collectives on
-- the same gradients: equal for 2 ranks bitwise (a sum of two is the same
-- in any order) and for 3 to float tolerance; unarmed and accumulating
-- backwards; parameters no rank or one rank used; the flags that ride
-- along; ranks whose models differ; bad calls.  Both transports: Gloo's
-- all_reduce and the shared memory of ranks on one host (which "auto"
-- takes here), and a rank that dies or hangs before it posts.
local R = require "spec.helpers.dist_ranks"
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")

local function run(world, scenario, transport)
  local dir = tmpdir()
  local port = R.port()
  local ranks = {}
  for r = 0, world - 1 do
    ranks[r + 1] = {
      argv = { R.CLARA, "spec/helpers/reducer_rank.lua" },
      env = { MASTER_ADDR = "127.0.0.1", MASTER_PORT = port, RANK = r, WORLD_SIZE = world,
              DIST_SCENARIO = scenario, DIST_TRANSPORT = transport },
    }
  end
  if scenario ~= "dies" then return R.run_all(dir, ranks, 60) end
  -- the last rank exits early, without results: the others' alone
  local group = R.start(dir, ranks)
  local ok, err = pcall(R.wait, group, 60)
  R.stop(group)
  assert(ok, err)
  local out = {}
  for r = 0, world - 2 do
    local p = group.procs[r + 1]
    out[r] = R.results(p)
    assert(p.code == 0 and out[r], ("rank %d ended with %s:\n%s"):format(r, tostring(p.code), R.log(p)))
  end
  return out
end

describe("torch.distributed.Reducer", function()
  teardown(cleanup)

  for _, case in ipairs { { 2, "gloo" }, { 3, "gloo" }, { 2, "shm" }, { 3, "auto" } } do
    local world, transport = case[1], case[2]
    describe(world .. " ranks, transport " .. transport, function()
      local out
      setup(function() out = run(world, "reduce", transport) end)

      it("takes the transport asked for (auto: shared memory, every rank being on this host)", function()
        for r = 0, world - 1 do
          assert.equals(transport == "gloo" and "gloo" or "shm", out[r].transport)
        end
      end)

      it("averages step after step with one reducer", function()
        for r = 0, world - 1 do
          local c = out[r].steps
          if world == 2 then
            assert.is_true(c.bitwise, ("rank %d differs by %g"):format(r, c.maxdiff))
          else
            assert.is_true(c.maxdiff <= 1e-5, ("rank %d differs by %g"):format(r, c.maxdiff))
          end
        end
      end)

      it("averages every gradient as all_reduce_coalesced does, in several buckets or one", function()
        for r = 0, world - 1 do
          for _, case in ipairs { "small_armed", "one_bucket", "small_unarmed", "used_armed" } do
            local c = out[r][case]
            if world == 2 then
              assert.is_true(c.bitwise, ("rank %d %s differs by %g"):format(r, case, c.maxdiff))
            else
              assert.is_true(c.maxdiff <= 1e-6, ("rank %d %s differs by %g"):format(r, case, c.maxdiff))
            end
          end
          assert.is_true(out[r].small_armed.buckets >= 3)
          assert.equals(1, out[r].one_bucket.buckets)
        end
      end)

      it("leaves no gradient where no rank had one, and averages one rank's", function()
        -- parameters: 1-4 the two Linear layers, 5-6 unused, 7-8 only0
        for r = 0, world - 1 do
          for _, case in ipairs { "small_armed", "one_bucket", "small_unarmed" } do
            assert.same({ 5, 6 }, out[r][case].nils)
          end
        end
      end)

      -- arm()'s flags when the armed backward began the last bucket; else
      -- (no armed backward, or a bucket holding a parameter without a
      -- gradient, which only finish() begins) finish()'s
      it("sums the flags over the ranks: arm's, or finish's when backward did not begin the last bucket", function()
        local armed, finished = { 0, 0 }, { 0, 0 }
        for r = 0, world - 1 do
          armed[1], armed[2] = armed[1] + r + 1, armed[2] + (r == 1 and 1 or 0)
          finished[1] = finished[1] + 10 * (r + 1)
        end
        for r = 0, world - 1 do
          assert.same(armed, out[r].used_armed.sums)
          assert.same(finished, out[r].small_armed.sums)
          assert.same(finished, out[r].small_unarmed.sums)
        end
      end)

      it("refuses bad calls with the API's name", function()
        local e = out[0]
        assert.matches("torch.distributed.Reducer: params must be a non%-empty list", e.bad_empty)
        assert.matches("params%[1%] must be a tensor", e.bad_tensor)
        assert.matches("bucket_cap", e.bad_option)
        assert.matches("transport must be one of", e.bad_transport)
        assert.matches("flags must be a list of 1 numbers", e.bad_flags)
        assert.matches("Reducer", e.bad_method)
      end)
    end)
  end

  for _, transport in ipairs { "gloo", "shm" } do
    it("ends the others with the rank named when one exits before it posts (" .. transport .. ")", function()
      local out = run(3, "dies", transport)
      for r = 0, 1 do
        assert.is_false(out[r].ok)
        assert.matches("gradients' all_reduce", out[r].error)
        assert.matches("rank 2", out[r].error)
        -- Gloo waits for its timeout (6 s); shared memory sees the pid gone
        local limit = transport == "gloo" and 10 or 4
        assert.is_true(out[r].seconds <= limit, "took " .. out[r].seconds .. " s")
      end
    end)
  end

  it("ends the others within the timeout, naming the rank, when one hangs (shm)", function()
    local out = run(2, "stuck", "shm")
    assert.is_false(out[0].ok)
    assert.matches("rank 1 did not take part %(did not post its gradients", out[0].error)
    assert.matches("timeout 3 s", out[0].error)
    assert.is_true(out[0].seconds >= 2 and out[0].seconds <= 6, "took " .. out[0].seconds .. " s")
  end)

  it("names the disagreement when the ranks' models differ", function()
    local out = run(2, "disagree")
    for r = 0, 1 do
      assert.is_false(out[r].ok)
      assert.matches("ranks disagree on the data%-parallel gradient buckets", out[r].error)
    end
  end)
end)
