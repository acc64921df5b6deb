// bench/twin.h: the clocks and run protocol of the C++ twins (the same as
// bench/clock.lua's M.twin and bench/twin.py, see there).  A repetition
// returns a Rep: the CHECK value and, when it timed only part of itself,
// the wall and CPU seconds it measured (negative: time the whole call).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace twin {

inline double wall_now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}
inline double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Rep {
  double check = 0, wall = -1, cpu = -1;
};

// count from argv[1], else default * BENCH_SCALE (at least minimum)
inline long count(int argc, char **argv, double def, long minimum) {
  if (argc > 1) return std::atol(argv[1]);
  const char *scale = std::getenv("BENCH_SCALE");
  return std::max(minimum, (long)(def * (scale ? std::atof(scale) : 1.0)));
}

// an integer setting from the environment
inline long setting(const char *var, long def) {
  const char *v = std::getenv(var);
  return v && *v ? std::atol(v) : def;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline Rep timed(const std::function<Rep()> &rep, double per) {
  double w0 = wall_now(), c0 = cpu_now();
  Rep r = rep();
  double w1 = wall_now(), c1 = cpu_now();
  if (r.wall < 0) r.wall = w1 - w0;
  if (r.cpu < 0) r.cpu = c1 - c0;
  r.wall /= per;
  r.cpu /= per;
  return r;
}

// warm-up, then the driver's "run" lines, or `reps` repetitions alone
inline void serve(const char *name, const std::function<Rep()> &rep, double per = 1,
                  const std::function<void()> &warmup = nullptr, int reps = 5) {
  if (warmup) warmup(); else rep();
  Rep last;
  bool ran = false;
  const char *drv = std::getenv("BENCH_DRIVER");
  if (drv && std::strcmp(drv, "1") == 0) {
    std::printf("READY %s\n", name);
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line) && line != "quit") {
      last = timed(rep, per);
      ran = true;
      std::printf("TIME %s %.6e %.6e\n", name, last.wall, last.cpu);
      std::fflush(stdout);
    }
  } else {
    std::vector<double> walls, cpus;
    for (int i = 0; i < reps; i++) {
      last = timed(rep, per);
      ran = true;
      walls.push_back(last.wall);
      cpus.push_back(last.cpu);
    }
    std::printf("RESULT %s %.6e\nCPU %s %.6e\n", name, median(walls), name, median(cpus));
  }
  if (ran) std::printf("CHECK %s %.6g\n", name, last.check);
  std::fflush(stdout);
}

}  // namespace twin
