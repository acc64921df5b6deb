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
