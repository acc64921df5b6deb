-- clara.analyze.example: an example input from the experiment's own data,
-- what `clara analyze exp.lua` traces when no --input shape is given.
--
--   local x = clara.analyze.example_input(spec, 1)   -- one training sample, preprocessed
--
-- spec is an experiment (clara.experiment, or the table it takes).  The
-- first `batch` samples of its training data, in order (no shuffle: the
-- RNG is untouched), batched by its batcher and through its preprocessing,
-- as the model sees them in training.
local E = require "clara.error"

local WHO = "clara.analyze.example_input"

return function(spec, batch)
  local experiment = require "clara.experiment"
  local exp = getmetatable(spec) == experiment.Experiment and spec or experiment(spec)
  if exp.data == nil then E.raise(WHO, "the experiment has no data: give an input shape (--input 1,28,28)") end
  local train = exp:data_parts().train
  local batcher = require("clara.train.batcher").resolve(exp.batcher)
  local it = batcher:batches(train, { split = "train", epoch = 1, seed = exp.seed, batch_size = batch or 1,
                                      shuffle = false, drop_last = false })
  local b = table.pack(it())
  if b[1] == nil then E.raise(WHO, "the experiment's training data yields no batch") end
  return exp.preprocess and exp.preprocess(b[1]) or b[1]
end
