#!/usr/bin/env bash
# The REPL of ./clara as a person uses it: typed into a terminal (tmux),
# read back from the screen.  One "ok - ..." / "not ok - ..." line per check.
set -u
cd "$(dirname "$0")/.."
clara="${CLARA:-$PWD/clara}" # CLARA=path tests another build
tmp=$(mktemp -d)
sock="clara-repl-test-$$" # a tmux server of our own, killed at the end
failed=0

cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
notok() {
  echo "not ok - $1"
  failed=$((failed + 1))
  echo "# screen:"
  screen | sed -e '/^$/d' -e 's/^/#   /' | tail -15
}
check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then ok "$what"; else notok "$what"; fi
}

t() { tmux -L "$sock" "$@" 2>/dev/null; }
screen() { t capture-pane -p -t repl -S -500 2>/dev/null; }

# enter TEXT: literal keys, then Enter (a ';' ending an argument is a tmux
# command separator unless escaped)
enter() {
  local s=$1
  [[ $s == *';' ]] && s="${s%;}\\;"
  t send-keys -t repl -l -- "$s"
  t send-keys -t repl Enter
}
keys() { t send-keys -t repl "$@"; }

# wait_line LINE [SECONDS]: until a screen line is exactly LINE
wait_line() {
  local i
  for ((i = 0; i < ${2:-5} * 20; i++)); do
    screen | grep -qxF -- "$1" && return 0
    sleep 0.05
  done
  return 1
}
# wait_text TEXT [SECONDS]: until TEXT is somewhere on the screen
wait_text() {
  local i
  for ((i = 0; i < ${2:-5} * 20; i++)); do
    screen | grep -qF -- "$1" && return 0
    sleep 0.05
  done
  return 1
}
# lines SHOWN: how many screen lines are exactly SHOWN
lines() { screen | grep -cxF -- "$1"; }

start() {
  tmux -L "$sock" -f /dev/null new-session -d -s repl -x 120 -y 40 \
    "env HOME='$tmp' CLARA_HISTORY='$tmp/history' '$clara'; echo CLARA-EXIT=\$?; sleep 30"
}

if [ ! -x "$clara" ]; then
  echo "not ok - ./clara is built"
  exit 1
fi

start
check "the REPL starts with a banner and a prompt" wait_text "clara "

enter '6*7 + 1000000'
check "an expression prints its value without '='" wait_line 1000042

enter 'function twice(x)'
wait_line '>>' 2
enter 'return 2 * x'
enter 'end'
enter 'twice(21000)'
check "a multi-line function definition" wait_line 42000

enter 'twice(50000);'
enter '"after-" .. "silent"'
silenced() { wait_line after-silent && [ "$(lines 100000)" = 0 ]; }
check "a trailing ';' silences the result" silenced

t send-keys -t repl -l 'string.fo'
keys Tab
sleep 0.2
enter '("%d!", 77)'
check "tab completes a global's field (string.fo -> string.format)" \
  wait_line '77!'

enter 'tbl = {inner = {alpha_beta = 5151}}'
t send-keys -t repl -l 'tbl.inner.alp'
keys Tab
sleep 0.2
keys Enter
check "tab completes a nested field (tbl.inner.alp)" wait_line 5151

enter 'F = {scale_by = function(s, k) return 3 * k end, scalar = 1}'
enter 'u = setmetatable({}, {__fields = F, __index = function(_, k) return F[k] end})'
t send-keys -t repl -l 'u:sca'
keys Tab
sleep 0.2
enter '(111)'
check "tab after ':' completes methods from __fields (u:sca)" wait_line 333

# results printed readably (clara.repl.show)
enter 'nest = {1, 2, {a = 3}}'
enter 'nest'
check "a nested table prints on one line with its keys" wait_line '{1, 2, {a = 3}}'

enter 'torch.zeros(2, 3):size()'
check "a size prints as torch.Size{2, 3}" wait_line 'torch.Size{2, 3}'

enter 'big = {w = torch.zeros(400, 3), name = "x", list = {}}; for i = 1, 30 do big.list[i] = i * 1000 end'
enter 'big'
shows_big() {
  wait_line '  w = tensor of size 400x3 (float32)' &&
    wait_text '20000, ... (10 more)' && wait_line '  name = "x",'
}
check "a long table: indented, tensors by size and dtype, elided with a count" shows_big

enter 'cyc = {}; cyc.me = cyc'
enter 'cyc'
check "a table inside itself shows as a cycle" wait_text '{me = <cycle: table 0x'

# help and ?name (clara.repl.help)
enter 'help(torch.randn)'
check "help(torch.randn) shows its signature (clara.repl.cdocs)" \
  wait_line 'torch.randn(size..., {dtype =, device =, requires_grad =}) -> Tensor'

enter '?torch.zeros'
check "?torch.zeros shows its documentation" wait_text 'example: torch.zeros(2, 3)'

enter '?nn.Linear'
check "?nn.Linear shows the doc comment from the stdlib" \
  wait_line 'nn.Linear(in_features, out_features, {bias = true})'

enter '?torch.randm'
check "?name of a missing name suggests the closest" wait_text "did you mean 'rand', 'randn'?"

enter 'help()'
check "help() explains help" wait_text 'help(value) shows the documentation'

# Ctrl-C during exp:run(): the partial result comes back
enter 'ds = clara.data.TensorDataset(torch.randn(400, 3), torch.randn(400, 1))'
enter 'slow = {on_step_end = function(ctx) if ctx.step >= 30 then local t = os.clock() while os.clock() - t < 0.05 do end end end}'
enter 'exp = clara.experiment{data = ds, model = function() return nn.Linear(3, 1) end, objective = clara.losses.mse, optimizer = function(m) return optim.SGD(m, {lr = 0.01}) end, batch_size = 4, epochs = 1000, out_dir = false, hooks = slow}'
enter 'r = exp:run()'
wait_text 'epoch 1/1000' 20
keys C-c
stopped() { wait_text 'interrupted at epoch' 10 && wait_text 'the run stops after this step'; }
check "Ctrl-C during exp:run() stops it at the next step" stopped
enter 'r.interrupted .. "/" .. tostring(#r.history >= 1) .. "/" .. tostring(r.model.weight ~= nil)'
check "the partial result holds the history and the model, marked interrupted" wait_line 'INT/true/true'

# a second Ctrl-C while a step is still running raises as any chunk
enter 'exp2 = exp:with{hooks = {on_step_end = function(ctx) if ctx.step == 3 then print("\nin-a-slow-step") local t = os.clock() while os.clock() - t < 5 do end end end}}'
enter 'r2 = nil; r2 = exp2:run()'
wait_line 'in-a-slow-step' 20
keys C-c
# the first Ctrl-C must be taken before the second comes (the second one
# of the first run is on the screen already)
for ((i = 0; i < 100; i++)); do
  [ "$(screen | grep -c 'Ctrl-C again')" -ge 2 ] && break
  sleep 0.05
done
keys C-c
enter 'tostring(r2) .. "-after-abort"'
check "a second Ctrl-C aborts the run (no result), the REPL goes on" wait_line 'nil-after-abort'

enter 'error("kaboom")'
wait_text kaboom
enter '"still-" .. "alive"'
check "an error shows its message and the REPL goes on" wait_line still-alive

enter 'while true do end'
sleep 0.3
keys C-c
wait_text 'interrupted!'
enter '"after-" .. "interrupt"'
check "Ctrl-C interrupts a running loop and the REPL answers after" \
  wait_line after-interrupt

t send-keys -t repl -l 'zzz_garbage'
sleep 0.1
keys C-c
sleep 0.1
enter '"cleared" .. "!"'
check "Ctrl-C at the prompt clears the line" wait_line 'cleared!'

keys C-d
check "Ctrl-D exits with status 0" wait_line CLARA-EXIT=0

check "the history file is written" grep -qF 'twice(21000)' "$tmp/history"

# a fresh tmux server: connecting to one still exiting after its last
# session closed fails with "server exited unexpectedly"
tmux -L "$sock" kill-server 2>/dev/null
sock="$sock-2"
start
wait_text "clara "
keys Up
sleep 0.2
keys Enter
check "history is read back by the next session (Up, Enter)" \
  wait_line 'cleared!'
keys C-d
wait_line CLARA-EXIT=0 2

[ "$failed" = 0 ]
