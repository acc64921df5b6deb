-- clara.cli.commands: every `clara WORD` command and every option it
-- takes, declared once.  The parser (clara.cli.args), `clara --help`,
-- `clara help COMMAND`, `clara COMMAND --help` and `clara help --commands`
-- (what the man page and docs are checked against) all read this table,
-- so help cannot drift from what is parsed.
--
-- A command: name, line (one line for `clara --help`), args (what follows
-- the word, for the usage line), about (a paragraph), options, examples.
-- An option: { name, kind, meta, doc, example = a command line using it,
-- alias = "-q", only = the `clara script` kind it belongs to }.  Kinds are
-- clara.cli.args's: flag, string, number, count, list, optional, positive,
-- seconds, index, port, shape.
local M = {}

M.list = {
  { name = "run", line = "train an experiment (a script returning clara.experiment{...})",
    args = "exp.lua",
    about = "Trains the experiment the script returns and writes its run directory "
      .. "(runs/<name>/<run-id>/).  SIGTERM, SIGUSR1 and SIGINT write a checkpoint at the next step "
      .. "and exit with code 75 (requeue).",
    options = {
      { "set", "list", "KEY=VALUE", "set a hyperparameter (a key of hparams; hparams.x adds one) or an "
          .. "experiment field; repeatable; numbers, true/false and nil are parsed",
        example = "clara run examples/fashion_mlp.lua --set epochs=1 --set lr=0.01" },
      { "resume", "optional", "[=DIR|FILE]", "continue the newest run of the experiment, the run DIR, "
          .. "or a kept checkpoint FILE (in a new run) with the settings the run recorded",
        example = "clara run examples/fashion_mlp.lua --resume" },
      { "out", "string", "DIR", "where run directories go (the experiment's out_dir; default runs)",
        example = "clara run examples/fashion_mlp.lua --out /tmp/runs" },
      { "quiet", "flag", nil, "verbose = false: print only errors", alias = "-q",
        example = "clara run examples/fashion_mlp.lua --quiet" },
      { "markdown", "flag", nil, "with --help: every experiment option as Markdown (docs/options.md)",
        example = "clara run --help --markdown > docs/options.md" },
    } },
  { name = "lr-find", line = "learning-rate range test of an experiment (plot and suggestion)",
    args = "exp.lua",
    about = "Runs the learning-rate range test on a copy of the experiment (its runs untouched), "
      .. "writes lr_find.csv and lr_find.png/.svg and prints the learning rate at the steepest "
      .. "descent of the smoothed loss.",
    options = {
      { "start-lr", "positive", "LR", "the learning rate of the first step (default 1e-7)",
        example = "clara lr-find examples/fashion_mlp.lua --start-lr 1e-6" },
      { "end-lr", "positive", "LR", "the learning rate of the last step (default 10)",
        example = "clara lr-find examples/fashion_mlp.lua --end-lr 1" },
      { "num-iter", "count", "N", "the number of optimizer steps, the lr growing exponentially (default 100)",
        example = "clara lr-find examples/fashion_mlp.lua --num-iter 50" },
      { "smooth", "number", "F", "the loss's smoothing factor, 1 - beta of its moving average (default 0.05)",
        example = "clara lr-find examples/fashion_mlp.lua --smooth 0.1" },
      { "diverge", "positive", "X", "stop when the smoothed loss exceeds X times the best (default 4)",
        example = "clara lr-find examples/fashion_mlp.lua --diverge 5" },
      { "set", "list", "KEY=VALUE", "change a setting of the experiment first (as clara run --set)",
        example = "clara lr-find examples/fashion_mlp.lua --set batch_size=64" },
      { "out", "string", "DIR", "where lr_find.csv and the plot go (default lr_find/<name>)",
        example = "clara lr-find examples/fashion_mlp.lua --out /tmp/lr" },
      { "no-plot", "flag", nil, "write the CSV only",
        example = "clara lr-find examples/fashion_mlp.lua --no-plot" },
      { "quiet", "flag", nil, "print the suggestion only", alias = "-q",
        example = "clara lr-find examples/fashion_mlp.lua --quiet" },
    } },
  { name = "analyze", line = "layers, output shapes, parameters, MACs and memory of a model",
    args = "MODEL",
    about = "MODEL is an experiment script (a fresh model from its factory), a run directory (its "
      .. "weights in the model --script builds) or a TorchScript file.  Output shapes are computed "
      .. "for --input, else for the experiment's own data (one sample of its training set).",
    options = {
      { "input", "shape", "D1,D2,...", "the shape of one sample, without the batch dimension "
          .. "(default: the experiment's data; a TorchScript file lists parameters only)",
        example = "clara analyze model.pt --input 1,28,28" },
      { "batch", "count", "N", "the batch size of the example input (default 1)",
        example = "clara analyze examples/fashion_cnn.lua --batch 32" },
      { "dtype", "string", "T", "the dtype of the example input: float32 or int64 (token ids)",
        example = "clara analyze lm.pt --input 16 --dtype int64" },
      { "script", "string", "exp.lua", "the experiment script that builds a run directory's model",
        example = "clara analyze runs/fashion_cnn/RUN --script examples/fashion_cnn.lua" },
      { "weights", "string", "FILE", "the weights of a run directory to load (default model.pt)",
        example = "clara analyze runs/fashion_cnn/RUN --script examples/fashion_cnn.lua --weights best.pt" },
      { "histograms", "string", "DIR", "also draw each parameter's histogram (PNG and SVG) into DIR",
        example = "clara analyze examples/fashion_mlp.lua --histograms /tmp/hist" },
      { "bins", "count", "N", "the histograms' bins (default 50)",
        example = "clara analyze examples/fashion_mlp.lua --histograms /tmp/hist --bins 20" },
    } },
  { name = "battery", line = "run every entry of a battery of experiments (grid, list, random search)",
    args = "b.lua",
    about = "b.lua returns a battery (clara.battery{...}).  Finished entries are skipped, interrupted ones "
      .. "resume.  Exit codes: 0 all done, 1 an entry failed, 2 a bad command line, 73 (--entry) "
      .. "the entry is held by another process, 75 interrupted (run the same command again).",
    options = {
      { "jobs", "count", "N", "run N entries at a time, as processes", alias = "-j",
        example = "clara battery b.lua --jobs 2" },
      { "only", "string", "PATTERN", "only the entries matching: a glob (* and ?), a part of the name, "
          .. "or key=value settings in any order",
        example = "clara battery b.lua --only lr=0.1,width=64" },
      { "list", "flag", nil, "print the entries' names (those --only matches), one per line",
        example = "clara battery b.lua --list --only lr=0.1" },
      { "entry", "count", "I", "run entry I alone in this process (a SLURM array task)",
        example = "clara battery b.lua --entry 3" },
      { "threads", "count", "T", "torch threads of this process",
        example = "clara battery b.lua --entry 3 --threads 4" },
      { "summary", "flag", nil, "only rewrite summary.csv/.json/.md from what is on disk",
        example = "clara battery b.lua --summary" },
      { "worker", "flag", nil, "a search battery: do the search's next jobs in this process until it is over "
          .. "(what each --jobs child and each SLURM array task runs)",
        example = "clara battery search.lua --worker" },
      { "quiet", "flag", nil, "print only errors", alias = "-q",
        example = "clara battery b.lua --quiet" },
    } },
  { name = "compare", line = "compare runs, cross-validations or batteries side by side (with tests)",
    args = "RUN RUN...",
    about = "Each RUN is a run, cross-validation, battery entry or battery directory.  Prints first the "
      .. "settings that differ between the runs, then every final metric side by side, parameters, time "
      .. "per epoch, epochs, and for cross-validations on the same folds a paired t-test and Wilcoxon "
      .. "test against the first RUN.",
    options = {
      { "metric", "list", "NAME", "the metric tested and plotted, and the metric columns shown "
          .. "(repeatable or a comma list; default: every metric, tested on test_acc or the like)",
        example = "clara compare runs/a runs/b --metric test_acc,test_loss" },
      { "out", "string", "DIR", "also write DIR/compare.md, DIR/compare.json and the learning curves",
        example = "clara compare runs/a runs/b --out /tmp/cmp" },
      { "alpha", "number", "A", "the tests' significance level (default 0.05)",
        example = "clara compare runs/cv-a runs/cv-b --alpha 0.01" },
      { "mode", "string", "max|min", "whether higher or lower is better (default: from the metric's name)",
        example = "clara compare runs/a runs/b --metric val_mse --mode min" },
      { "no-plots", "flag", nil, "with --out: no learning-curve plots",
        example = "clara compare runs/a runs/b --out /tmp/cmp --no-plots" },
    } },
  { name = "report", line = "HTML report with charts of runs, cross-validations or batteries",
    args = "DIR...",
    about = "Writes a self-contained report.html with PNG and SVG charts into DIR/report/ (or one page "
      .. "for all with --out) and prints its path.  DIR is a run, a cross-validation, a battery, or an "
      .. "experiment's directory holding several runs (runs/NAME: its newest run).",
    options = {
      { "out", "string", "DIR", "one page for all the directories given, in DIR", alias = "-o",
        example = "clara report runs/a runs/b --out /tmp/report" },
      { "embed", "string", "png|svg", "the charts embedded in the page (default png)",
        example = "clara report runs/fashion_mlp --embed svg" },
      { "quiet", "flag", nil, "print nothing", alias = "-q",
        example = "clara report runs/fashion_mlp --quiet" },
    } },
  { name = "script", line = "write a SLURM job array or bash runner for a battery or a script",
    args = "slurm|bash FILE",
    about = "Writes a job script to stdout (or --out FILE, executable): `slurm battery.lua` a job "
      .. "array, one task per entry, requeued when the time limit interrupts it; `slurm --script "
      .. "FILE [-- ARGS]` one job running a clara script or command; `bash battery.lua` a runner for a "
      .. "server without a scheduler.",
    options = {
      { "out", "string", "FILE", "write the script to FILE (made executable) instead of stdout",
        example = "clara script slurm b.lua --out job.sh" },
      { "log-dir", "string", "DIR", "where the tasks' logs go (default <the file's directory>/logs)",
        example = "clara script bash b.lua --log-dir logs" },
      { "time", "string", "HH:MM:SS", "slurm: each task's time limit", only = "slurm",
        example = "clara script slurm b.lua --time 02:00:00" },
      { "signal-lead", "string", "SECONDS", "slurm: how long before the limit SLURM signals the task",
        only = "slurm", example = "clara script slurm b.lua --signal-lead 120" },
      { "cpus", "string", "N", "slurm: CPUs per task", only = "slurm",
        example = "clara script slurm b.lua --cpus 8" },
      { "mem", "string", "SIZE", "slurm: memory per task", only = "slurm",
        example = "clara script slurm b.lua --mem 8G" },
      { "max-parallel", "string", "M", "slurm: at most M tasks of the array at once", only = "slurm",
        example = "clara script slurm b.lua --max-parallel 4" },
      { "partition", "string", "P", "slurm: the partition", only = "slurm",
        example = "clara script slurm b.lua --partition gpu" },
      { "account", "string", "A", "slurm: the account", only = "slurm",
        example = "clara script slurm b.lua --account proj42" },
      { "gpus", "string", "N", "slurm: GPUs per task", only = "slurm",
        example = "clara script slurm b.lua --gpus 1" },
      { "max-requeues", "string", "N", "slurm: give up on a task requeued N times", only = "slurm",
        example = "clara script slurm b.lua --max-requeues 5" },
      { "nodes", "string", "N", "slurm: nodes per task (data-parallel)", only = "slurm",
        example = "clara script slurm --script run exp.lua --nodes 2 --ntasks-per-node 2" },
      { "ntasks-per-node", "string", "K", "slurm: ranks per node (data-parallel)", only = "slurm",
        example = "clara script slurm --script run exp.lua --ntasks-per-node 4" },
      { "script", "flag", nil, "slurm: the FILE is a clara script (or command), not a battery; "
          .. "its own arguments go after '--'", only = "slurm",
        example = "clara script slurm --script run exp.lua -- --set lr=0.1" },
      { "workers", "string", "N", "slurm: a search battery's array of N workers, each pulling the "
          .. "search's next job", only = "slurm",
        example = "clara script slurm search.lua --workers 4" },
      { "jobs", "string", "N", "bash: entries run at a time", only = "bash", alias = "-j",
        example = "clara script bash b.lua --jobs 2" },
      { "nohup", "flag", nil, "bash: the runner goes on after the terminal closes", only = "bash",
        example = "clara script bash b.lua --nohup" },
    } },
  { name = "launch", line = "start N ranks of a data-parallel script (torchrun for clara)",
    args = "script.lua [args...]", passthrough = true,
    about = "Starts N ranks of `clara script.lua args...` with RANK, WORLD_SIZE, LOCAL_RANK, "
      .. "MASTER_ADDR and MASTER_PORT set, shows their output, passes SIGTERM/SIGINT/SIGUSR1/SIGHUP on, "
      .. "and stops every rank when one fails (SIGTERM, then SIGKILL after --grace seconds; exiting "
      .. "with its code, 128 + the signal's number if one killed it; 75, a checkpoint was written, "
      .. "passes through).  Each rank also has LOCAL_WORLD_SIZE, GROUP_RANK, GROUP_WORLD_SIZE, and a "
      .. "line-buffered stdout (CLARA_INIT, unless CLARA_INIT or LUA_INIT is set).  If the launcher "
      .. "dies, each rank gets SIGTERM.  The options end at the script, which may be a clara command "
      .. "(run exp.lua).",
    options = {
      { "nproc", "count", "N", "ranks on this node (default 1)", alias = "--nproc-per-node",
        example = "clara launch --nproc 2 run exp.lua" },
      { "nnodes", "count", "M", "nodes in the job (default 1; then --master-addr and --master-port too)",
        example = "clara launch --nnodes 2 --node-rank 0 --master-addr n1 --master-port 29500 train.lua" },
      { "node-rank", "index", "K", "this node's place in the job, 0 .. M-1 (default 0)",
        example = "clara launch --nnodes 2 --node-rank 1 --master-addr n1 --master-port 29500 train.lua" },
      { "master-addr", "string", "HOST", "where rank 0 listens (default 127.0.0.1)",
        example = "clara launch --nproc 2 --master-addr 127.0.0.1 train.lua" },
      { "master-port", "port", "P", "rank 0's port (default: one free now)",
        example = "clara launch --nproc 2 --master-port 29500 train.lua" },
      { "log-dir", "string", "DIR", "each rank's output in DIR/rank-K.out and .err (appended) instead "
          .. "of [rank K]-prefixed lines",
        example = "clara launch --nproc 2 --log-dir logs run exp.lua --set lr=0.1" },
      { "threads", "count", "T", "OMP_NUM_THREADS of each rank (default: cores / N)",
        example = "clara launch --nproc 2 --threads 1 train.lua" },
      { "grace", "seconds", "S", "seconds between TERM and KILL when stopping the ranks (default 10)",
        example = "clara launch --nproc 2 --grace 30 train.lua" },
    } },
  { name = "help", line = "explain a command and every option it takes", args = "[COMMAND]",
    about = "`clara help COMMAND` is `clara COMMAND --help`; without COMMAND, the list of commands.",
    options = {
      { "commands", "flag", nil, "print each command as name<TAB>line (for the man page and docs)",
        example = "clara help --commands" },
    } },
}

M.by_name = {}
for _, c in ipairs(M.list) do M.by_name[c.name] = c end

-- find(word) -> the command's declaration, or nil
function M.find(word) return M.by_name[word] end

-- unknown(word) -> "unknown command 'reprot'; did you mean 'report'?"
function M.unknown(word)
  local near = require("clara.error").closest(word, M.names())
  return ("unknown command '%s'%s"):format(word, near and ("; did you mean '" .. near .. "'?") or "")
end

-- names() -> every command's name, in the order of M.list
function M.names()
  local out = {}
  for i, c in ipairs(M.list) do out[i] = c.name end
  return out
end

-- path(c) -> the file that runs the command (clara/cli/lr_find.lua for lr-find)
function M.path(c)
  return package.searchpath("clara.cli." .. c.name:gsub("-", "_"), package.path)
end

return M
