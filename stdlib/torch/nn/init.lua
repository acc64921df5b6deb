-- torch.nn: modules (native ones bound from libtorch, and modules written
-- in Lua on nn.Module), containers, and the functional interface.
local module = require "torch.nn.module"
local containers = require "torch.nn.containers"

local nn = {}
nn.Module = module.Module
nn.Parameter = module.Parameter
nn.is_module = module.is_module
nn.Sequential = containers.Sequential
nn.ModuleList = containers.ModuleList
nn.ModuleDict = containers.ModuleDict
nn.functional = require "torch.nn.functional"
nn.init = require "torch.nn.init_fns"
nn.utils = require "torch.nn.utils"

-- libtorch's own modules, by family
for _, family in ipairs { "linear", "conv", "norm", "recurrent", "activation" } do
  for name, class in pairs(require("torch.nn." .. family)) do
    if type(class) == "table" then nn[name] = class end
  end
end

-- every class's methods detect a '.' call
for _, name in ipairs { "Sequential", "ModuleList", "ModuleDict" } do module.guard(nn[name], name) end
for _, family in ipairs { "linear", "conv", "norm", "recurrent", "activation" } do
  for name, class in pairs(require("torch.nn." .. family)) do
    if type(class) == "table" then module.guard(class, name) end
  end
end

-- TorchScript models exported from PyTorch
function nn.load(...) return require("torch.jit").load(...) end

-- nn.Linaer, nn.functional.rleu, nn.init.xavier raise with the closest names
local E = require "clara.error"
E.namespace(nn, "nn")
E.namespace(nn.functional, "nn.functional")
E.namespace(nn.init, "nn.init")
E.namespace(nn.utils, "nn.utils")

return nn
