# bench/twin.py: the run protocol of the Python twins (the same as
# bench/clock.lua's M.twin and bench/twin.h, see there).  rep() returns the
# CHECK value, or (check, wall, cpu) when it timed only part of itself.
import os
import statistics
import sys
import time


def count(default, minimum):
    """count from argv[1], else default * BENCH_SCALE (at least minimum)"""
    if len(sys.argv) > 1:
        return int(float(sys.argv[1]))
    return max(minimum, int(default * float(os.environ.get("BENCH_SCALE", "1"))))


def setting(var, default):
    v = os.environ.get(var)
    return int(float(v)) if v else default


def _timed(rep, per):
    w0, c0 = time.perf_counter(), time.process_time()
    r = rep()
    w1, c1 = time.perf_counter(), time.process_time()
    if isinstance(r, tuple):
        check, wall, cpu = r
    else:
        check, wall, cpu = r, w1 - w0, c1 - c0
    return wall / per, cpu / per, check


def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def twin(name, rep, per=1, warmup=None, reps=5):
    (warmup or rep)()
    check = None
    if os.environ.get("BENCH_DRIVER") == "1":
        _say("READY %s" % name)
        for line in sys.stdin:
            if line.strip() == "quit":
                break
            wall, cpu, check = _timed(rep, per)
            _say("TIME %s %.6e %.6e" % (name, wall, cpu))
    else:
        walls, cpus = [], []
        for _ in range(reps):
            wall, cpu, check = _timed(rep, per)
            walls.append(wall)
            cpus.append(cpu)
        _say("RESULT %s %.6e" % (name, statistics.median(walls)))
        _say("CPU %s %.6e" % (name, statistics.median(cpus)))
    if check is not None:
        _say("CHECK %s %.6g" % (name, check))
