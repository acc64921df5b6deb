-- clara.run: the run directory, each file written and read back; history
-- appends and rewrites; report.md; model.pt into a module; checkpoints
-- that resume bitwise (weights, optimizer, scheduler, loader, RNG state).
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/run_dir_spec.lua
local torch = require "torch"
local nn = require "torch.nn"
local optim = require "torch.optim"
local clara = require "clara"
local run = require "clara.run"
local fs = require "clara.fs"
local json = require "clara.run.json"
local lfs = require "lfs"

local BASE = os.tmpname()
os.remove(BASE)
teardown(function() os.execute("rm -rf '" .. BASE .. "'") end)

local function entries(dir)
  local names = {}
  for name in lfs.dir(dir) do
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

describe("clara.run directory", function()
  it("open makes runs/<experiment>/<timestamp-suffix>, a new one each time", function()
    local a = run.open(BASE, "exp")
    local b = run.open(BASE, "exp")
    assert.truthy(a.id:match("^%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d%-%x%x%x%x$"), a.id)
    assert.not_equal(a.id, b.id)
    assert.equal(BASE .. "/exp/" .. a.id, a.dir)
    assert.is_true(fs.isdir(a.dir))
    assert.is_true(fs.isdir(b.dir))
  end)

  it("ids sort in start order, within one second too (the newest run is the greatest id)", function()
    -- runs opened 3 ms apart, by this process and by children with other
    -- pids: each later id is greater, whatever second they fall in
    local ids, sleep = {}, function() local t = require("clara.sys.core").clock() + 0.003
      repeat until require("clara.sys.core").clock() >= t end
    for i = 1, 12 do
      if i % 3 == 0 then
        local p = io.popen(("./clara -e 'io.write(require(\"clara.run\").open(%q, \"order\").id)'"):format(BASE))
        ids[#ids + 1] = p:read("a"); p:close()
      else
        ids[#ids + 1] = run.open(BASE, "order").id
      end
      sleep()
    end
    for i = 2, #ids do assert.is_true(ids[i] > ids[i - 1], ids[i - 1] .. " then " .. ids[i]) end
  end)

  it("open with an id creates it, or reopens it with its history", function()
    local r = run.open(BASE, "exp", { id = "fixed" })
    assert.equal(BASE .. "/exp/fixed", r.dir)
    r:append_history { epoch = 1, loss = 0.5 }
    local again = run.open(BASE, "exp", { id = "fixed" })
    assert.same({ { epoch = 1, loss = 0.5 } }, again.history)
  end)

  it("config.json: sorted keys, the user's values, versions and seed", function()
    torch.manual_seed(1234)
    local r = run.open(BASE, "cfg")
    r:write_config { lr = 0.1, layers = { 784, 256, 10 }, name = "mlp", opt = { momentum = 0.9 } }
    local text = fs.read(r:path("config.json"))
    local cfg = json.decode(text)
    assert.equal(0.1, cfg.lr)
    assert.same({ 784, 256, 10 }, cfg.layers)
    assert.same({ momentum = 0.9 }, cfg.opt)
    assert.equal(1234, cfg.seed)
    assert.equal(clara.version, cfg.clara_version)
    assert.equal(_VERSION, cfg.lua_version)
    assert.equal(torch.__version__, cfg.libtorch_version)
    assert.equal(r.id, cfg.run_id)
    assert.equal("cfg", cfg.experiment)
    -- sorted keys: each top-level key comes after the one before
    local keys = {}
    for k in text:gmatch('\n  "([%w_]+)":') do keys[#keys + 1] = k end
    assert.equal(10, #keys)
    for i = 2, #keys do assert.is_true(keys[i - 1] < keys[i], keys[i - 1] .. " before " .. keys[i]) end
    -- an explicit seed wins
    r:write_config { seed = 7 }
    assert.equal(7, json.decode(fs.read(r:path("config.json"))).seed)
  end)

  it("model.txt: model, preprocess and postprocess as they print", function()
    local r = run.open(BASE, "txt")
    local net = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    local pre = clara.transforms.chain { clara.transforms.Scale(0.5), clara.transforms.Flatten() }
    r:write_model_txt { model = net, preprocess = pre }
    local text = fs.read(r:path("model.txt"))
    assert.truthy(text:find("model:\n" .. tostring(net), 1, true), text)
    assert.truthy(text:find("preprocess:\n" .. tostring(pre), 1, true), text)
    assert.truthy(text:find("postprocess:\n(none)", 1, true), text)
    assert.truthy(text:find("Linear(in_features=4, out_features=3, bias=True)", 1, true))
  end)

  it("history.csv: stable header, appends, a new column rewrites the file wider", function()
    local r = run.open(BASE, "hist")
    r:append_history { loss = 0.5, epoch = 1, accuracy = 0.25 }
    assert.equal("epoch,accuracy,loss\n1,0.25,0.5\n", fs.read(r:path("history.csv")))
    r:append_history { epoch = 2, loss = torch.tensor(0.25), accuracy = 0.5 }
    assert.equal("epoch,accuracy,loss\n1,0.25,0.5\n2,0.5,0.25\n", fs.read(r:path("history.csv")))
    r:append_history { epoch = 3, loss = 1 / 3, accuracy = 0.75, lr = 0.01 }
    assert.equal("epoch,accuracy,loss,lr\n1,0.25,0.5,\n2,0.5,0.25,\n3,0.75,0.33333333333333331,0.01\n",
                 fs.read(r:path("history.csv")))
    local info = run.read(r.dir)
    assert.equal(3, #info.history)
    assert.equal(1 / 3, info.history[3].loss)       -- exact round trip
    assert.is_nil(info.history[1].lr)
    assert.same({ "epoch", "accuracy", "loss", "lr" }, info.columns)
  end)

  it("history.csv: on resume the checkpoint's history replaces the file (no duplicates)", function()
    local r = run.open(BASE, "hist", { id = "resume" })
    for e = 1, 4 do r:append_history { epoch = e, loss = 1 / e } end
    local at_checkpoint = { { epoch = 1, loss = 1.0 }, { epoch = 2, loss = 0.5 } }
    -- the process died after epoch 4, the checkpoint was of epoch 2
    local again = run.open(BASE, "hist", { id = "resume" })
    again:set_history(at_checkpoint)
    again:append_history { epoch = 3, loss = 1 / 3 }
    assert.equal("epoch,loss\n1,1\n2,0.5\n3,0.33333333333333331\n", fs.read(again:path("history.csv")))
  end)

  it("history.csv: quoted text cells, a torn last line is left out", function()
    local r = run.open(BASE, "hist")
    r:append_history { epoch = 1, note = 'a, "b"' }
    local f = io.open(r:path("history.csv"), "a"); f:write("2,half a li"); f:close()
    local info = run.read(r.dir)
    assert.same({ { epoch = 1, note = 'a, "b"' } }, info.history)
  end)

  it("report.json and report.md: final metrics per split, summary, per-epoch table", function()
    local r = run.open(BASE, "rep", { id = "r1" })
    r:append_history { epoch = 1, loss = 0.9, val_accuracy = 0.5 }
    r:append_history { epoch = 2, loss = 0.4, val_accuracy = 0.75 }
    r:write_report {
      metrics = { test = { accuracy = 0.875, loss = 0.45 }, train = { accuracy = 0.9, loss = 0.4 },
                  val = { accuracy = 0.75, loss = torch.tensor(0.5) } },
      best_epoch = 2, stopped = "max_epochs" }
    local rep = json.decode(fs.read(r:path("report.json")))
    assert.equal(0.875, rep.metrics.test.accuracy)
    assert.equal(0.5, rep.metrics.val.loss)
    assert.equal(2, rep.best_epoch)
    assert.equal(2, #rep.history)
    local md = fs.read(r:path("report.md"))
    assert.equal(table.concat({
      "# rep / r1",
      "",
      "## Final metrics",
      "",
      "| split | accuracy | loss |",
      "|---|---:|---:|",
      "| train | 0.9000 | 0.4000 |",
      "| val | 0.7500 | 0.5000 |",
      "| test | 0.8750 | 0.4500 |",
      "",
      "## Summary",
      "",
      "- best_epoch: 2",
      "- stopped: max_epochs",
      "",
      "## Per epoch",
      "",
      "| epoch | loss | val_accuracy |",
      "|---:|---:|---:|",
      "| 1 | 0.9000 | 0.5000 |",
      "| 2 | 0.4000 | 0.7500 |",
      "" }, "\n"), md)
    assert.same(rep, run.read(r.dir).report)
  end)

  it("recorder(): what clara.train calls writes history, report (final = metrics) and model.pt", function()
    local r = run.open(BASE, "rec", { id = "r" })
    local net = nn.Linear(2, 1)
    local rec = r:recorder()
    rec:epoch_end({}, { epoch = 1, train_loss = 0.5 })
    rec:epoch_end({}, { epoch = 2, train_loss = 0.25 })
    rec:run_end({ model = net }, { model = net, optimizer = {}, history = r.history,
                                   final = { test = { loss = 0.3 } }, best = { epoch = 2 }, time = 1.5 })
    assert.equal("epoch,train_loss\n1,0.5\n2,0.25\n", fs.read(r:path("history.csv")))
    local rep = json.decode(fs.read(r:path("report.json")))
    assert.same({ test = { loss = 0.3 } }, rep.metrics)
    assert.is_nil(rep.model)
    assert.is_nil(rep.final)
    local md = fs.read(r:path("report.md"))
    assert.truthy(md:find("| test | 0.3000 |", 1, true), md)
    assert.truthy(md:find("- best.epoch: 2\n- time: 1.5 s\n", 1, true), md)   -- times carry their unit
    assert.is_true(torch.equal(torch.load(r:path("model.pt")).weight, net.weight))
  end)

  it("model.pt: the state_dict, loadable with torch.load into a fresh module", function()
    torch.manual_seed(5)
    local net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    local r = run.open(BASE, "model")
    r:save_model(net)
    r:save_model(net, "best.pt")
    local sd = torch.load(r:path("model.pt"))
    assert.is_true(torch.equal(sd["0.weight"], net[1].weight))
    assert.is_true(torch.equal(sd["2.bias"], net[3].bias))
    local fresh = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    fresh:load_state_dict(run.read(r.dir).state_dict)
    local x = torch.randn(5, 4)
    assert.is_true(torch.equal(net(x), fresh(x)))
    assert.is_true(torch.equal(run.read(r.dir, { model = "best.pt" }).state_dict["0.bias"], net[1].bias))
  end)

  it("run.read of a directory with only some files; of a missing one: an error", function()
    local r = run.open(BASE, "partial")
    local info = run.read(r.dir)
    assert.equal(r.dir, info.dir)
    assert.is_nil(info.config)
    assert.is_nil(info.state_dict)
    local ok, err = pcall(run.read, BASE .. "/nope")
    assert.is_false(ok)
    assert.truthy(err:find("clara.run.read: '.*nope' is not a directory"), err)
  end)
end)

describe("torch.get_rng_state / set_rng_state", function()
  it("restoring the state gives the same torch.randn, rand and randperm again", function()
    torch.manual_seed(42)
    torch.randn(7)
    local s = torch.get_rng_state()
    assert.equal("uint8", s.dtype)
    local a, b, c = torch.randn(3, 4), torch.rand(20), torch.randperm(10)
    torch.manual_seed(0)
    torch.randn(100)
    torch.set_rng_state(s)
    assert.is_true(torch.equal(a, torch.randn(3, 4)))
    assert.is_true(torch.equal(b, torch.rand(20)))
    assert.is_true(torch.equal(c, torch.randperm(10)))
  end)

  it("the state survives torch.save / torch.load", function()
    local p = BASE .. "/rng.pt"
    fs.mkdir_p(BASE)
    torch.save(p, { rng = torch.get_rng_state() })
    local want = torch.randn(5)
    torch.randn(3)
    torch.set_rng_state(torch.load(p).rng)
    assert.is_true(torch.equal(want, torch.randn(5)))
  end)

  it("clara.run.rng_state / set_rng_state: the same, as a table for checkpoints", function()
    local s = run.rng_state()
    local want = torch.randn(4)
    torch.randn(9)
    run.set_rng_state(s)
    assert.is_true(torch.equal(want, torch.randn(4)))
    local ok, err = pcall(run.set_rng_state, torch.get_rng_state())
    assert.is_false(ok)
    assert.truthy(err:find("clara.run.set_rng_state: a table from rng_state()", 1, true), err)
  end)

  it("rejects what is not a generator state", function()
    local ok, err = pcall(torch.set_rng_state, 3)
    assert.is_false(ok)
    assert.truthy(err:find("set_rng_state", 1, true) and err:find("tensor expected", 1, true), err)
    ok, err = pcall(torch.set_rng_state, torch.zeros(3))
    assert.is_false(ok)
    assert.truthy(err:find("set_rng_state:", 1, true), err)
    assert.falsy(err:find("Exception raised from", 1, true), err)
  end)
end)

describe("clara.run checkpoints", function()
  -- train n steps, logging losses; shuffled mini-batches, dropout (the
  -- RNG), Adam (optimizer state), StepLR (scheduler state)
  local function setup()
    torch.manual_seed(3)
    local x = torch.randn(40, 5)
    local y = x:sum(2):gt(0):long()
    local ds = clara.data.TensorDataset(x, y)
    local loader = clara.data.DataLoader(ds, { batch_size = 8, shuffle = true, seed = 11 })
    local net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))
    local opt = optim.Adam(net:parameters(), { lr = 0.01 })
    local sched = optim.lr_scheduler.StepLR(opt, { step_size = 3, gamma = 0.5 })
    return { net = net, opt = opt, sched = sched, loader = loader }
  end

  -- steps continue the loader's current epoch (one iterator kept across
  -- calls; a restored loader resumes where its state says), then new ones
  local function train(s, steps, losses)
    s.it = s.it or s.loader:iter()
    while steps > 0 do
      local xb, yb = s.it()
      if xb == nil then
        s.sched:step()
        s.it = s.loader:iter()
      else
        s.opt:zero_grad()
        local loss = nn.functional.cross_entropy(s.net(xb), yb)
        loss:backward()
        s.opt:step()
        losses[#losses + 1] = loss:item()
        steps = steps - 1
      end
    end
  end

  local function state_of(s, history)
    return { model = s.net:state_dict(), optimizer = s.opt:state_dict(),
             scheduler = s.sched:state_dict(), loader = s.loader:state(),
             rng = torch.get_rng_state(), epoch = 2, history = history }
  end

  it("save_checkpoint / load_checkpoint resume mid-epoch bitwise", function()
    local r = run.open(BASE, "ckpt")
    assert.is_nil(r:load_checkpoint())
    local s = setup()
    local before = {}
    train(s, 13, before)   -- epoch 3, batch 3 of 5
    r:save_checkpoint(state_of(s, { { epoch = 1, loss = before[5] } }))
    local want = {}
    train(s, 9, want)

    local t = setup()
    torch.manual_seed(999)  -- a different stream, until the checkpoint's
    local st = run.open(BASE, "ckpt", { id = r.id }):load_checkpoint()
    t.net:load_state_dict(st.model)
    t.opt:load_state_dict(st.optimizer)
    t.sched:load_state_dict(st.scheduler)
    t.loader:set_state(st.loader)
    torch.set_rng_state(st.rng)
    assert.equal(2, st.epoch)
    assert.same({ { epoch = 1, loss = before[5] } }, st.history)
    local got = {}
    train(t, 9, got)
    assert.same(want, got)
    assert.equal(s.opt.param_groups[1].lr, t.opt.param_groups[1].lr)
  end)

  it("a checkpoint replaced by a newer one; temporaries left behind are removed, not read", function()
    local r = run.open(BASE, "ckpt2")
    r:save_checkpoint { step = 1 }
    r:save_checkpoint { step = 2 }
    local stale = r:path("checkpoint.pt.tmp-abc123")
    local f = io.open(stale, "w"); f:write("half a pickle"); f:close()
    assert.equal(2, r:load_checkpoint().step)
    assert.is_false(fs.exists(stale))
    assert.same({ ".lock", "checkpoint.pt" }, entries(r.dir))   -- .lock: r holds the run
  end)
end)
