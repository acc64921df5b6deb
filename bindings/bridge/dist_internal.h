// dist_internal.h: what dist.cpp shares with reducer.cpp: the process
// group's state and the way a collective is begun and waited for (with the
// timeout, naming the ranks that did not take part when it fails).
#ifndef BRIDGE_DIST_INTERNAL_H
#define BRIDGE_DIST_INTERNAL_H

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "internal.h"

namespace dist {
using Clock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;
} // namespace dist

struct th_pg_s {
  c10::intrusive_ptr<c10d::Store> store; // PyTorch's "default_pg" prefix
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank = 0, size = 1;
  dist::ms timeout{0};
  bool tcp = false;
  std::string where;       // "host:port" or the file
  int64_t seq = 0;         // collectives begun, the same count on every rank
  bool check = false;      // every peer is clara and asked for the checks
  std::string broken;      // why the group can no longer be used
};


namespace dist {

// A collective about to begin: throws when the group failed earlier;
// counts it (the same count on every rank)
void begin(th_pg_s *g);
// Wait for a begun collective (op: its name in messages), within the
// timeout; on failure the group is broken and the error names the ranks
// that did not take part
void wait(th_pg_s *g, const char *op, Clock::time_point begun,
          const c10::intrusive_ptr<c10d::Work> &work);
// Every rank's values of v equal, or an error naming the first rank that
// differs (what: what v describes); one checked all_reduce
void same_everywhere(th_pg_s *g, const std::vector<double> &v, const std::string &what);
// The smallest of every rank's v (one all_reduce)
double min_everywhere(th_pg_s *g, double v);

// Buckets summed through shared memory by ranks on one host
// (local_sum.cpp): post(b) after writing own(b), sum(b) waits for every
// rank's post and adds the slots in rank order; end_step() after the last.
class LocalSum {
public:
  // collective; nullptr when some rank cannot take part (another host, no
  // shared memory), an error instead when required
  static std::unique_ptr<LocalSum> open(th_pg_s *g, const std::vector<size_t> &bucket_bytes,
                                        bool required);
  ~LocalSum();
  at::Tensor own(size_t b, const at::Tensor &like) const;
  void post(size_t b);
  void sum(size_t b, at::Tensor &out);
  void end_step() { step++; }

private:
  LocalSum() = default;
  std::atomic<uint32_t> *generation(size_t b) const;
  std::atomic<uint32_t> *posted(size_t b, int r) const;
  char *slot(size_t b, int r, uint64_t step) const;
  std::vector<int> missing(size_t b) const;
  void wait(size_t b);
  [[noreturn]] void fail(const std::string &why);

  th_pg_s *g = nullptr;
  int rank = 0, world = 1;
  std::vector<pid_t> peer_pids;
  std::vector<size_t> offsets;
  size_t slot_bytes = 0, row = 0, data_at = 0, total = 0;
  char *base = nullptr;
  uint64_t step = 0;
};

} // namespace dist

#endif
