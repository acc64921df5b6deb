-- torch.nn: neural network building blocks.  For now only the functional
-- interface; modules arrive with the models issue.
local nn = {}
nn.functional = require "torch.nn.functional"
return nn
