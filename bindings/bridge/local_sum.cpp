// local_sum.cpp: the gradient buckets of ranks that share one host summed
// through shared memory instead of Gloo's loopback sockets.
//
// Gloo moves a bucket rank to rank over TCP, with a thread hand-off on each
// side: on a small machine that costs more than the model's own step (a
// 1 MB MLP bucket: about 1-3 ms).  When every rank of the group runs on
// this host, each rank copies its bucket into its own slot of one mapped
// segment, marks it posted and wakes the others (a futex); the sum is read
// by each rank from all the slots, in rank order, so every rank computes
// the same bits.  Slots alternate between two halves step by step: a rank
// can only post step s + 2 after every rank posted step s + 1, which each
// does after it has read step s.
//
// Setting up is collective (through the group's store and one all_reduce):
// the ranks compare their host (hostname and boot id), rank 0 creates the
// segment, every rank maps it, and rank 0 unlinks it once all have, so
// nothing is left in /dev/shm whatever happens later.  A rank that dies is
// seen by its peers (its pid is gone) before the timeout runs out.
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "dist_internal.h"

using dist::Clock;
using dist::ms;

namespace {

const size_t LINE = 64;            // one cache line per counter row: no false sharing

size_t round_up(size_t n) { return (n + LINE - 1) / LINE * LINE; }

std::string host_id() {
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string boot;
  std::getline(f, boot);
  return std::string(name) + "/" + boot;
}

std::string store_get(th_pg_s *g, const std::string &key) {
  auto v = g->store->get(key);
  return std::string(v.begin(), v.end());
}

void store_set(th_pg_s *g, const std::string &key, const std::string &value) {
  g->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
}

long futex(std::atomic<uint32_t> *word, int op, uint32_t value, const timespec *t) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), op, value, t, nullptr, 0);
}

} // namespace

namespace dist {

// layout: per bucket, a line with a generation word and the step each rank
// posted last; then two halves of world slots, each holding every bucket
std::unique_ptr<LocalSum> LocalSum::open(th_pg_s *g, const std::vector<size_t> &bucket_bytes,
                                         bool required) {
  auto s = std::unique_ptr<LocalSum>(new LocalSum());
  s->g = g;
  s->rank = g->rank;
  s->world = g->size;
  size_t off = 0;
  for (size_t b : bucket_bytes) s->offsets.push_back(off), off += round_up(b);
  s->slot_bytes = off;
  size_t nb = bucket_bytes.size();
  s->row = round_up(sizeof(uint32_t) * (size_t)(s->world + 1));
  s->data_at = nb * s->row;
  s->total = s->data_at + 2 * (size_t)s->world * s->slot_bytes;

  // 1. the same host everywhere? (this reducer's keys: g->seq is the same on every rank)
  std::string key = "clara_local_sum/" + std::to_string(g->seq) + "/";
  store_set(g, key + "host/" + std::to_string(s->rank), host_id());
  store_set(g, key + "pid/" + std::to_string(s->rank), std::to_string(getpid()));
  bool local = true;
  std::string why;
  for (int r = 0; r < s->world && local; r++) {
    if (store_get(g, key + "host/" + std::to_string(r)) != host_id()) {
      local = false, why = "rank " + std::to_string(r) + " runs on another host";
      continue;
    }
    s->peer_pids.push_back((pid_t)std::stol(store_get(g, key + "pid/" + std::to_string(r))));
    if (kill(s->peer_pids.back(), 0) != 0 && errno == ESRCH)
      local = false, why = "rank " + std::to_string(r) + "'s process is not visible from here";
  }
  // 2. rank 0 creates the segment and names it; every rank maps it
  std::string name;
  if (local && s->rank == 0) {
    name = "/clara-grads-" + std::to_string(getpid()) + "-" + std::to_string(g->seq);
    int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)s->total) != 0)
      local = false, why = std::string("cannot create shared memory: ") + strerror(errno);
    if (fd >= 0) close(fd);
    else name.clear(); // nothing of ours to unlink
  }
  if (s->rank == 0) store_set(g, key + "name", local ? name : "");
  if (local && s->rank != 0) {
    name = store_get(g, key + "name");
    if (name.empty()) local = false, why = "rank 0 could not create it";
  }
  if (local) {
    int fd = shm_open(name.c_str(), O_RDWR, 0600);
    void *p = fd < 0 ? MAP_FAILED
                     : mmap(nullptr, s->total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) local = false, why = std::string("cannot map it: ") + strerror(errno);
    else s->base = static_cast<char *>(p);
    if (fd >= 0) close(fd);
  }
  // 3. every rank can, or none uses it; then the name goes
  bool all = min_everywhere(g, local ? 1 : 0) == 1;
  if (s->rank == 0 && !name.empty()) shm_unlink(name.c_str());
  if (!all) {
    if (required)
      throw std::runtime_error("transport \"shm\" needs every rank on this host with shared "
                               "memory" + (why.empty() ? std::string("") : " (" + why + ")") +
                               "; use \"gloo\"");
    return nullptr;
  }
  return s;
}

LocalSum::~LocalSum() {
  if (base) munmap(base, total);
}

std::atomic<uint32_t> *LocalSum::generation(size_t b) const {
  return reinterpret_cast<std::atomic<uint32_t> *>(base + b * row);
}

std::atomic<uint32_t> *LocalSum::posted(size_t b, int r) const {
  return generation(b) + 1 + r;
}

char *LocalSum::slot(size_t b, int r, uint64_t step) const {
  return base + data_at + ((step & 1) * (size_t)world + (size_t)r) * slot_bytes + offsets[b];
}

at::Tensor LocalSum::own(size_t b, const at::Tensor &like) const {
  return at::from_blob(slot(b, rank, step), like.sizes(), like.options());
}

void LocalSum::post(size_t b) {
  posted(b, rank)->store((uint32_t)(step + 1), std::memory_order_release);
  generation(b)->fetch_add(1, std::memory_order_seq_cst);
  futex(generation(b), FUTEX_WAKE, INT_MAX, nullptr);
}

std::vector<int> LocalSum::missing(size_t b) const {
  std::vector<int> out;
  for (int r = 0; r < world; r++)
    if ((int32_t)(posted(b, r)->load(std::memory_order_acquire) - (uint32_t)(step + 1)) < 0)
      out.push_back(r);
  return out;
}

void LocalSum::fail(const std::string &why) {
  std::ostringstream s;
  s << "the gradients' all_reduce (shared memory, step " << step + 1 << ") failed on rank "
    << rank << ": " << why << " (timeout " << g->timeout.count() / 1000.0 << " s)";
  g->broken = s.str();
  throw std::runtime_error(s.str());
}

void LocalSum::wait(size_t b) {
  auto deadline = Clock::now() + g->timeout;
  while (true) {
    uint32_t gen = generation(b)->load(std::memory_order_seq_cst);
    std::vector<int> late = missing(b);
    if (late.empty()) return;
    for (int r : late)
      if (kill(peer_pids[(size_t)r], 0) != 0 && errno == ESRCH)
        fail("rank " + std::to_string(r) + " did not take part (its process, pid " +
             std::to_string(peer_pids[(size_t)r]) + ", exited before it posted its gradients)");
    auto now = Clock::now();
    if (now >= deadline) {
      std::ostringstream s;
      s << (late.size() == 1 ? "rank " : "ranks ");
      for (size_t i = 0; i < late.size(); i++) s << (i ? ", " : "") << late[i];
      s << " did not take part (did not post " << (late.size() == 1 ? "its" : "their")
        << " gradients: stuck elsewhere?)";
      fail(s.str());
    }
    // a post between the check and the sleep changes the generation: no lost wake-up
    auto left = std::min(std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now),
                         std::chrono::nanoseconds(ms(100)));
    timespec t{(time_t)(left.count() / 1000000000), (long)(left.count() % 1000000000)};
    futex(generation(b), FUTEX_WAIT, gen, &t);
  }
}

void LocalSum::sum(size_t b, at::Tensor &out) {
  wait(b);
  // rank order on every rank: the same bits everywhere
  for (int r = 0; r < world; r++) {
    at::Tensor v = at::from_blob(slot(b, r, step), out.sizes(), out.options());
    if (r == 0) out.copy_(v);
    else out.add_(v);
  }
}

} // namespace dist
