-- Bad calls into TorchScript models and torch.save / torch.load: each must
-- raise a Lua error (never crash) that names the function, the file or the
-- method, says what was wrong, and carries no C++ backtrace.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_jit_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.

local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"

local MODEL = "spec/fixtures/tiny_model.pt"
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

local function write(name, bytes)
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(bytes)
  f:close()
  return dir .. "/" .. name
end

local function slurp(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local model_bytes = slurp(MODEL)
local sd_bytes = slurp("spec/fixtures/state_dict.pt")
local corrupt = write("corrupt.pt", ("not a model "):rep(50))
local truncated = write("truncated.pt", model_bytes:sub(1, #model_bytes // 2))
local truncated_tail = write("truncated_tail.pt", model_bytes:sub(1, #model_bytes - 40))
local truncated_sd = write("truncated_sd.pt", sd_bytes:sub(1, #sd_bytes - 100))
local empty = write("empty.pt", "")

local m = torch.jit.load(MODEL)
local x = torch.ones(4, 3)
local function freed()
  local f = torch.jit.compile("def forward(self, x):\n    return x\n")
  f:free()
  return f
end
local cyclic = {}
cyclic.self = cyclic

-- { description, what the message must name, what it must also say, call }
local cases = {
  -- loading models
  { "jit.load of a missing file", "torch.jit.load", "cannot open '" .. dir .. "/missing.pt': no such file",
    function() return torch.jit.load(dir .. "/missing.pt") end },
  { "jit.load of a directory", "torch.jit.load", "is a directory", function() return torch.jit.load(dir) end },
  { "jit.load of a corrupt file", "torch.jit.load", corrupt, function() return torch.jit.load(corrupt) end },
  { "jit.load of a corrupt file says so", "torch.jit.load", "truncated or corrupt", function() return torch.jit.load(corrupt) end },
  { "jit.load of a truncated .pt", "torch.jit.load", truncated, function() return torch.jit.load(truncated) end },
  { "jit.load of a .pt missing its tail", "torch.jit.load", "truncated or corrupt", function() return torch.jit.load(truncated_tail) end },
  { "jit.load of an empty file", "torch.jit.load", empty, function() return torch.jit.load(empty) end },
  { "jit.load of a torch.save file", "torch.jit.load", "read it with torch.load",
    function() return torch.jit.load("spec/fixtures/state_dict.pt") end },
  { "jit.load without a path", "torch.jit.load", "path (a string) expected, got nil", function() return torch.jit.load() end },
  { "nn.load of a missing file", "torch.jit.load", "missing.pt", function() return nn.load(dir .. "/missing.pt") end },

  -- calling models
  { "call of a missing method", "call", "no method 'nope' in Tiny", function() return m:call("nope", x) end },
  { "call with a number for a method", "call", "method name (a string) expected, got number", function() return m:call(42, x) end },
  { "forward with a string", "forward", "argument 2 'x' expects Tensor, got string", function() return m:forward("x") end },
  { "forward with a list", "forward", "argument 2 'x' expects Tensor, got a list (List[Tensor])", function() return m:forward({ x }) end },
  { "forward with the wrong shape", "forward", "shapes cannot be multiplied (4x5 and 3x4)", function() return m(torch.ones(4, 5)) end },
  { "forward with the wrong dtype", "forward", "must have the same dtype", function() return m(torch.ones(4, 3, { dtype = "float64" })) end },
  { "forward without its argument", "forward", "argument 2 'x' (Tensor) is missing", function() return m:forward() end },
  { "forward with one argument too many", "forward", "takes 1 argument(s) (x), got 2", function() return m:forward(x, x) end },
  { "exported method with a 3-d input", "features", "shapes cannot be multiplied", function() return m:features(torch.ones(2, 3, 4)) end },
  { "forward called with '.'", "forward", "forward called with '.'", "call it with ':'", function() return m.forward(x) end },
  { "forward with a function argument", "forward", "cannot convert a function", function() return m:forward(print) end },
  { "method of a freed module", "forward", "already freed", function() return freed():forward(x) end },
  { "setting a field of a script module", "script module", "cannot set field 'weight'", function() m.weight = 1 end },
  { "train with a string mode", "train", "mode must be a boolean", function() return m:train("yes") end },

  -- state
  { "load_state_dict of a number", "load_state_dict", "table name -> tensor", function() return m:load_state_dict(3) end },
  { "load_state_dict with a missing key", "load_state_dict", "missing keys [fc1.weight]",
    function()
      local sd = m:state_dict()
      sd["fc1.weight"] = nil
      return m:load_state_dict(sd)
    end },
  { "load_state_dict with an unexpected key", "load_state_dict", "unexpected keys [extra]",
    function()
      local sd = m:state_dict()
      sd.extra = torch.ones(1)
      return m:load_state_dict(sd)
    end },
  { "load_state_dict with the wrong shape", "load_state_dict", "size mismatch for 'fc1.weight': the model has [4, 3], the state dict [3, 4]",
    function()
      local sd = m:state_dict()
      sd["fc1.weight"] = torch.ones(3, 4)
      return m:load_state_dict(sd)
    end },
  { "load_state_dict with a string value", "load_state_dict", "'fc1.bias' is a string",
    function()
      local sd = m:state_dict()
      sd["fc1.bias"] = "zeros"
      return m:load_state_dict(sd)
    end },
  { "save of a script module to a number", "save", "path (a string) expected", function() return m:save(42) end },
  { "save of a script module into a missing directory", "save", "cannot write '" .. dir .. "/no/m.pt'",
    function() return m:save(dir .. "/no/m.pt") end },

  -- compiling
  { "compile of nil", "torch.jit.compile", "source text (a string) expected, got nil", function() return torch.jit.compile() end },
  { "compile of a syntax error", "torch.jit.compile", "line 2",
    function() return torch.jit.compile("def forward(self, x):\n    return x +* 1\n") end },
  { "compile with a missing attribute", "torch.jit.compile", "no attribute or method 'w'",
    function() return torch.jit.compile("def forward(self, x):\n    return self.w + x\n") end },
  { "compile with an unknown option", "torch.jit.compile", "unknown option 'params'",
    function() return torch.jit.compile("def forward(self, x):\n    return x\n", { params = {} }) end },
  { "compile with a non-tensor parameter", "torch.jit.compile", "parameter 'w' must be a tensor, got number",
    function() return torch.jit.compile("def forward(self, x):\n    return x\n", { parameters = { w = 3 } }) end },
  { "compile with a bad parameter pair", "torch.jit.compile", "parameters[1] must be a {name, value} pair",
    function() return torch.jit.compile("def forward(self, x):\n    return x\n", { parameters = { 3 } }) end },
  { "compile with a non-module submodule", "torch.jit.compile", "module 'a' must be a script module, got userdata",
    function() return torch.jit.compile("def forward(self, x):\n    return x\n", { modules = { a = torch.ones(1) } }) end },
  { "tuple of a number", "torch.jit.tuple", "a list expected", function() return torch.jit.tuple(3) end },

  -- torch.save
  { "save without a path", "torch.save", "path (a string) expected", function() return torch.save(torch.ones(1), 3) end },
  { "save of nil", "torch.save", "nothing to save", function() return torch.save(dir .. "/n.pt", nil) end },
  { "save of a function", "torch.save", "cannot convert a function", function() return torch.save(dir .. "/f.pt", { f = print }) end },
  { "save of a table with mixed keys", "torch.save", "both string and number keys",
    function() return torch.save(dir .. "/m.pt", { 1, 2, a = 3 }) end },
  { "save of a cyclic table", "torch.save", "nested too deep (or a cycle)", function() return torch.save(dir .. "/c.pt", cyclic) end },
  { "save into a missing directory", "torch.save", "cannot write '" .. dir .. "/no/x.pt'",
    function() return torch.save(dir .. "/no/x.pt", torch.ones(1)) end },
  { "save of a module itself", "torch.save", "save module:state_dict()",
    function() return torch.save(dir .. "/model.pt", nn.Linear(2, 2)) end },
  { "save of a freed tensor", "torch.save", "tensor already freed",
    function()
      local t = torch.ones(1)
      t:free()
      return torch.save(dir .. "/t.pt", { t = t })
    end },

  -- torch.load
  { "load of a missing file", "torch.load", "cannot open '" .. dir .. "/missing.pt'", function() return torch.load(dir .. "/missing.pt") end },
  { "load of a directory", "torch.load", "is a directory", function() return torch.load(dir) end },
  { "load of a corrupt file", "torch.load", "not a zip archive", function() return torch.load(corrupt) end },
  { "load of a corrupt file names it", "torch.load", corrupt, function() return torch.load(corrupt) end },
  { "load of a truncated file", "torch.load", "truncated or corrupt", function() return torch.load(truncated_sd) end },
  { "load of an empty file", "torch.load", "not a zip archive", function() return torch.load(empty) end },
  { "load of a whole PyTorch model (torch.save(model))", "torch.load", "cannot load the Python object 'torch.nn.modules.linear.Linear'",
    function() return torch.load("spec/fixtures/whole_model.pt") end },
  { "load of a whole model suggests a state_dict", "torch.load", "save a state_dict rather than a model",
    function() return torch.load("spec/fixtures/whole_model.pt") end },
  { "load of a TorchScript model", "torch.load", "load it with torch.jit.load", function() return torch.load(MODEL) end },
  { "load of a number", "torch.load", "path (a string) expected, got number", function() return torch.load(3) end },
}

describe("bad calls into torch.jit and torch.save/load", function()
  badcalls(cases)

  it("leave the model usable and no temporary files behind", function()
    collectgarbage()
    assert.equal(2, #m(x))
    local p = io.popen("ls -A " .. dir)
    for name in p:lines() do
      assert.is_falsy(name:find(".tmp-", 1, true), "temporary left: " .. name)
    end
    p:close()
    os.execute("rm -rf " .. dir)
  end)
end)
