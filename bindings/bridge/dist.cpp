// dist.cpp: torch.distributed's engine.  A c10d ProcessGroupGloo over a
// TCPStore (rank 0 hosts it) or a FileStore, laid out in the store as
// PyTorch 1.13's init_process_group lays it out, so that a Python rank can
// join a clara group.  A failed collective ends with the ranks that did not
// take part named: Gloo's own message only names a peer's address.
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <sstream>
#include <thread>

#include "dist_internal.h"

using bridge::T;
using dist::Clock;
using dist::ms;

namespace {

enum What { ALL_REDUCE, BROADCAST, ALL_GATHER, REDUCE, BARRIER };
const char *const OP_NAMES[] = {"all_reduce", "broadcast", "all_gather",
                                "reduce", "barrier"};

// libtorch's message without its C++ backtrace
std::string message(const std::exception &e) {
  if (auto *c = dynamic_cast<const c10::Error *>(&e)) return c->what_without_backtrace();
  return e.what();
}

// Slack on top of the timeout for the ranks of a failed collective to meet
// in the store: they fail at different moments (a closed socket at once, a
// silent peer after the timeout)
const ms SLACK{2000};

std::string list(const std::vector<int> &ranks) {
  std::ostringstream s;
  for (size_t i = 0; i < ranks.size(); i++) s << (i ? ", " : "") << ranks[i];
  return s.str();
}

std::string rank_word(const std::vector<int> &ranks) {
  return (ranks.size() == 1 ? "rank " : "ranks ") + list(ranks);
}

std::string seconds(ms t) {
  std::ostringstream s;
  s << t.count() / 1000.0 << " s";
  return s.str();
}

// After a collective failed: say so in the store, wait (until the deadline)
// for every other rank to say the same, and name those that never do.  A
// rank that is dead, stuck elsewhere or gone home never checks in.  Rank 0
// hosts a TCPStore: once it has checked in it may leave (its own error
// ends it), and the store with it, while others still wait.
std::string missing_after_failure(th_pg_s *g, Clock::time_point deadline) {
  auto key = [](int r) { return std::vector<std::string>{"clara_failed/" + std::to_string(r)}; };
  std::vector<bool> seen(g->size, false);
  seen[g->rank] = true;
  bool store_gone = false;
  try {
    g->store->set(key(g->rank)[0], {'1'});
    while (true) {
      bool all = true;
      for (int r = 0; r < g->size; r++) {
        if (!seen[r]) seen[r] = g->store->check(key(r));
        all = all && seen[r];
      }
      if (all || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(ms(20));
    }
  } catch (const std::exception &) {
    store_gone = true;
  }
  if (store_gone && g->tcp && !seen[0])
    return "rank 0 is gone (its store at " + g->where + " no longer answers)";
  std::vector<int> missing;
  for (int r = 0; r < g->size; r++)
    if (!seen[r]) missing.push_back(r);
  if (missing.empty()) return store_gone ? "the store at " + g->where + " no longer answers" : "";
  return rank_word(missing) + " did not take part (exited, killed, or stuck elsewhere)";
}

// A failed collective (the seq-th): the group is broken from now on, and
// the error names the ranks that did not take part
[[noreturn]] void fail(th_pg_s *g, const char *op, int64_t seq, Clock::time_point begun,
                       const std::exception &e) {
  std::string gloo = message(e);
  std::string who = missing_after_failure(g, begun + g->timeout + SLACK);
  std::ostringstream s;
  s << op << " #" << seq << " failed on rank " << g->rank;
  if (!who.empty()) s << ": " << who;
  s << " (timeout " << seconds(g->timeout) << "; Gloo: " << gloo << ")";
  g->broken = s.str();
  throw std::runtime_error(s.str());
}

// Run one collective: wait for it with the timeout
void run(th_pg_s *g, What what, const std::function<c10::intrusive_ptr<c10d::Work>()> &start) {
  dist::begin(g);
  auto begun = Clock::now();
  int64_t seq = g->seq;
  try {
    start()->wait(g->timeout + SLACK);
  } catch (const std::exception &e) {
    fail(g, OP_NAMES[what], seq, begun, e);
  }
}

// What each rank is about to do, compared before it does it: Gloo itself
// hangs or mixes bytes when ranks disagree on dtype or size.
struct Fingerprint {
  int64_t what, dtype, numel, root, op;
  bool operator!=(const Fingerprint &o) const {
    return what != o.what || dtype != o.dtype || numel != o.numel || root != o.root || op != o.op;
  }
};
const int N_FIELDS = 5;

const char *const REDUCE_NAMES[] = {"sum", "avg", "product", "min", "max"};

std::string describe(const Fingerprint &f) {
  if (f.what < ALL_REDUCE || f.what > BARRIER) return "an unknown collective";
  std::ostringstream s;
  s << OP_NAMES[f.what];
  if (f.what != BARRIER)
    s << " of " << th_dtype_name((int)f.dtype) << " with " << f.numel << " element"
      << (f.numel == 1 ? "" : "s");
  if ((f.what == ALL_REDUCE || f.what == REDUCE) && f.op >= 0 && f.op <= TH_DIST_MAX)
    s << " (op " << REDUCE_NAMES[f.op] << ")";
  if (f.what == BROADCAST || f.what == REDUCE) s << " (root " << f.root << ")";
  return s.str();
}

// root and op: -1 where the collective has none
void agree(th_pg_s *g, What what, const at::Tensor *t, int64_t root, int64_t op) {
  if (!g->check) return;
  int dtype = t ? bridge::dtype_of(t->scalar_type()) : -1;
  Fingerprint mine{what, dtype, t ? t->numel() : 0, root, op};
  auto in = at::tensor({mine.what, mine.dtype, mine.numel, mine.root, mine.op}, at::kLong);
  std::vector<at::Tensor> outs;
  for (int r = 0; r < g->size; r++) outs.push_back(at::empty({N_FIELDS}, at::kLong));
  std::vector<std::vector<at::Tensor>> outputs{outs};
  std::vector<at::Tensor> inputs{in};
  run(g, what, [&] { return g->pg->allgather(outputs, inputs); });
  g->seq--; // the check and its collective count as one
  for (int r = 0; r < g->size; r++) {
    auto p = outs[r].data_ptr<int64_t>();
    Fingerprint f{p[0], p[1], p[2], p[3], p[4]};
    if (f != mine)
      throw std::runtime_error("ranks disagree: rank " + std::to_string(r) + " called " +
                               describe(f) + ", rank " + std::to_string(g->rank) + " " +
                               describe(mine));
  }
}

c10d::ReduceOp reduce_op(int op) {
  switch (op) {
  case TH_DIST_SUM: case TH_DIST_AVG: return c10d::ReduceOp::SUM;
  case TH_DIST_PRODUCT: return c10d::ReduceOp::PRODUCT;
  case TH_DIST_MIN: return c10d::ReduceOp::MIN;
  case TH_DIST_MAX: return c10d::ReduceOp::MAX;
  }
  throw std::invalid_argument("unknown reduce op " + std::to_string(op));
}

// Gloo 1.13 has no AVG: a sum, divided here (floating dtypes only, as an
// integer average would round)
void check_avg(int op, const at::Tensor &t) {
  if (op == TH_DIST_AVG && !at::isFloatingType(t.scalar_type()))
    throw std::invalid_argument(std::string("op avg needs a floating-point tensor, got ") +
                                th_dtype_name(bridge::dtype_of(t.scalar_type())));
}

void check_dense(const at::Tensor &t, const char *what) {
  if (!t.is_contiguous())
    throw std::invalid_argument(std::string(what) +
                                " is not contiguous (call :contiguous() first)");
}

c10::intrusive_ptr<c10d::Store> open_store(th_pg_s *g, int kind, const char *where,
                                           int port) {
  if (kind == TH_DIST_FILE) {
    g->where = where;
    return c10::make_intrusive<c10d::FileStore>(where, g->size);
  }
  g->tcp = true;
  g->where = std::string(where) + ":" + std::to_string(port);
  c10d::TCPStoreOptions o;
  o.port = (uint16_t)port;
  o.isServer = g->rank == 0;
  o.numWorkers = g->size;
  // A worker counts itself in (the "init/" key), as PyTorch's clients do:
  // a PyTorch rank 0 waits for that count before it goes on.  rank 0 does
  // not wait for it here: the join below names who is missing.
  o.waitWorkers = g->rank != 0;
  o.timeout = g->timeout;
  o.multiTenant = true;
  try {
    return c10::make_intrusive<c10d::TCPStore>(where, o);
  } catch (const std::exception &e) {
    std::string why = message(e);
    if (g->rank == 0)
      throw std::runtime_error("rank 0 cannot host the store at " + g->where + ": " + why);
    throw std::runtime_error("cannot reach rank 0's store at " + g->where + " within " +
                             seconds(g->timeout) + " (rank 0 missing, or a wrong "
                             "MASTER_ADDR/MASTER_PORT): " + why);
  }
}

// Gloo's rendezvous: each rank publishes its address under "rank_R" (this
// libgloo) or "R" (older ones), below the device's number
std::vector<int> not_joined(th_pg_s *g, const c10::intrusive_ptr<c10d::Store> &pgstore) {
  std::vector<int> out;
  for (int r = 0; r < g->size; r++) {
    std::string n = std::to_string(r);
    if (!pgstore->check({"0/rank_" + n}) && !pgstore->check({"0/" + n})) out.push_back(r);
  }
  return out;
}

// A rank started with another world_size waits for ranks that will never
// come, or is waited for: say so rather than who is missing
std::string world_disagreement(th_pg_s *g) {
  std::ostringstream s;
  try {
    for (int r = 0; r < g->size; r++) {
      std::vector<std::string> k{"clara_world/" + std::to_string(r)};
      if (r == g->rank || !g->store->check(k)) continue;
      auto v = g->store->get(k[0]);
      std::string theirs(v.begin(), v.end());
      if (theirs != std::to_string(g->size))
        s << (s.tellp() > 0 ? ", " : "") << "rank " << r << " has world_size " << theirs;
    }
  } catch (const std::exception &) {
  }
  if (s.tellp() <= 0) return "";
  return "ranks disagree: " + s.str() + ", rank " + std::to_string(g->rank) + " " +
         std::to_string(g->size);
}

void join(th_pg_s *g) {
  std::string size = std::to_string(g->size);
  g->store->set("clara_world/" + std::to_string(g->rank), std::vector<uint8_t>(size.begin(), size.end()));
  auto pgstore = c10::make_intrusive<c10d::PrefixStore>("0", g->store);
  auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
  opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  try {
    g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(pgstore, g->rank, g->size, opts);
  } catch (const std::exception &e) {
    std::vector<int> missing;
    try { missing = not_joined(g, pgstore); } catch (const std::exception &) {}
    std::string why = message(e);
    std::string disagree = world_disagreement(g);
    if (!disagree.empty()) throw std::runtime_error(disagree + " (Gloo: " + why + ")");
    if (missing.empty()) throw std::runtime_error("joining the group failed: " + why);
    throw std::runtime_error(rank_word(missing) + " did not join within " +
                             seconds(g->timeout) + " (Gloo: " + why + ")");
  }
}

// PyTorch's store-based barrier ends init_process_group; clara ranks also
// leave a mark, so that a group of clara ranks only turns the collective
// checks on
void finish_init(th_pg_s *g, bool check) {
  g->store->set("clara_check/" + std::to_string(g->rank), {uint8_t(check ? '1' : '0')});
  const std::string key = "store_based_barrier_key:1";
  g->store->add(key, 1);
  auto deadline = Clock::now() + g->timeout;
  int64_t count;
  while ((count = g->store->add(key, 0)) != g->size) {
    if (Clock::now() > deadline) {
      std::string disagree = world_disagreement(g);
      if (!disagree.empty()) throw std::runtime_error(disagree);
      throw std::runtime_error("only " + std::to_string(count) + " of " +
                               std::to_string(g->size) + " ranks finished init within " +
                               seconds(g->timeout));
    }
    std::this_thread::sleep_for(ms(10));
  }
  g->check = true;
  for (int r = 0; r < g->size; r++) {
    std::vector<std::string> k{"clara_check/" + std::to_string(r)};
    if (!g->store->check(k) || g->store->get(k[0]) != std::vector<uint8_t>{'1'})
      g->check = false;
  }
  g->pg->setSequenceNumberForGroup();
}

// Parameters are reduced and broadcast too (a data-parallel start): the
// collectives are not part of any graph, as in PyTorch
void reduce_in_place(th_pg_s *g, at::Tensor &t, int op, int root, bool all) {
  at::NoGradGuard no_grad;
  check_dense(t, "the tensor");
  check_avg(op, t);
  agree(g, all ? ALL_REDUCE : REDUCE, &t, all ? -1 : root, op);
  std::vector<at::Tensor> ts{t};
  if (all) {
    c10d::AllreduceOptions o;
    o.reduceOp = reduce_op(op);
    run(g, ALL_REDUCE, [&] { return g->pg->allreduce(ts, o); });
  } else {
    c10d::ReduceOptions o;
    o.reduceOp = reduce_op(op);
    o.rootRank = root;
    run(g, REDUCE, [&] { return g->pg->reduce(ts, o); });
  }
  if (op == TH_DIST_AVG && (all || g->rank == root)) t.div_(g->size);
}

} // namespace

void dist::begin(th_pg_s *g) {
  if (!g->broken.empty())
    throw std::runtime_error("the process group failed earlier (" + g->broken +
                             "); destroy_process_group() and init again");
  g->seq++;
}

void dist::wait(th_pg_s *g, const char *op, Clock::time_point begun,
                const c10::intrusive_ptr<c10d::Work> &work) {
  try {
    work->wait(g->timeout + SLACK);
  } catch (const std::exception &e) {
    fail(g, op, g->seq, begun, e);
  }
}

// max and -min of every value in one all_reduce (max): equal everywhere
// when max == min
void dist::same_everywhere(th_pg_s *g, const std::vector<double> &v, const std::string &what) {
  at::NoGradGuard no_grad;
  int64_t n = (int64_t)v.size();
  at::Tensor t = at::empty({2 * n}, at::kDouble);
  double *p = t.data_ptr<double>();
  for (int64_t i = 0; i < n; i++) p[i] = v[i], p[n + i] = -v[i];
  reduce_in_place(g, t, TH_DIST_MAX, 0, true);
  for (int64_t i = 0; i < n; i++)
    if (p[i] != -p[n + i])
      throw std::runtime_error("ranks disagree on " + what + " (rank " + std::to_string(g->rank) +
                               " has " + std::to_string((int64_t)v[i]) + ", another rank " +
                               std::to_string((int64_t)(p[i] == v[i] ? -p[n + i] : p[i])) + ")");
}

double dist::min_everywhere(th_pg_s *g, double v) {
  at::Tensor t = at::tensor({v}, at::kDouble);
  reduce_in_place(g, t, TH_DIST_MIN, 0, true);
  return t.item<double>();
}

int th_dist_init(th_pg *out, int kind, const char *where, int port, int rank,
                 int world_size, double timeout, int check) {
  PROTECT(auto g = std::make_unique<th_pg_s>();
          g->rank = rank; g->size = world_size;
          g->timeout = ms((int64_t)(timeout * 1000));
          auto base = open_store(g.get(), kind, where, port);
          base->setTimeout(g->timeout);
          g->store = c10::make_intrusive<c10d::PrefixStore>("default_pg", base);
          join(g.get());
          finish_init(g.get(), check != 0);
          *out = g.release();)
}

void th_dist_free(th_pg g) {
  if (!g) return;
  // a broken group's destructor would wait for its failed work: let it go
  if (!g->broken.empty()) {
    (void)g->pg.release();
    (void)g->store.release();
  }
  try {
    delete g;
  } catch (...) {
  }
}

int th_dist_checked(th_pg g) { return g->check ? 1 : 0; }

int th_dist_all_reduce(th_pg g, th_tensor t, int op) {
  PROTECT(reduce_in_place(g, T(t), op, 0, true);)
}

int th_dist_reduce(th_pg g, th_tensor t, int dst, int op) {
  PROTECT(reduce_in_place(g, T(t), op, dst, false);)
}

// Many tensors, one collective: flattened into one buffer (the gradients of
// a data-parallel step), reduced, copied back
int th_dist_all_reduce_coalesced(th_pg g, const th_tensor *ts, int n, int op) {
  PROTECT(std::vector<at::Tensor> flat;
          for (int i = 0; i < n; i++) {
            if (T(ts[i]).scalar_type() != T(ts[0]).scalar_type())
              throw std::invalid_argument(
                  "tensor " + std::to_string(i + 1) + " is " +
                  th_dtype_name(bridge::dtype_of(T(ts[i]).scalar_type())) + ", tensor 1 " +
                  th_dtype_name(bridge::dtype_of(T(ts[0]).scalar_type())) +
                  " (one dtype per call)");
            flat.push_back(T(ts[i]).reshape({-1}));
          }
          at::NoGradGuard no_grad;
          at::Tensor buf = at::cat(flat);
          reduce_in_place(g, buf, op, 0, true);
          int64_t off = 0;
          for (int i = 0; i < n; i++) {
            at::Tensor &dst = T(ts[i]);
            int64_t k = dst.numel();
            dst.copy_(buf.narrow(0, off, k).view(dst.sizes()));
            off += k;
          })
}

int th_dist_broadcast(th_pg g, th_tensor t, int src) {
  PROTECT(check_dense(T(t), "the tensor");
          agree(g, BROADCAST, &T(t), src, -1);
          std::vector<at::Tensor> ts{T(t)};
          c10d::BroadcastOptions o;
          o.rootRank = src;
          run(g, BROADCAST, [&] { return g->pg->broadcast(ts, o); });)
}

int th_dist_all_gather(th_pg g, const th_tensor *outs, int n, th_tensor t) {
  PROTECT(check_dense(T(t), "the tensor");
          if (n != g->size)
            throw std::invalid_argument("the output list needs " + std::to_string(g->size) +
                                        " tensors (one per rank), got " + std::to_string(n));
          std::vector<at::Tensor> o;
          for (int r = 0; r < g->size; r++) {
            at::Tensor &x = T(outs[r]);
            if (x.scalar_type() != T(t).scalar_type() || !x.sizes().equals(T(t).sizes()))
              throw std::invalid_argument(
                  "output " + std::to_string(r + 1) + " must match the tensor's dtype " +
                  th_dtype_name(bridge::dtype_of(T(t).scalar_type())) + " and shape");
            check_dense(x, ("output " + std::to_string(r + 1)).c_str());
            o.push_back(x);
          }
          agree(g, ALL_GATHER, &T(t), -1, -1);
          std::vector<std::vector<at::Tensor>> outputs{o};
          std::vector<at::Tensor> inputs{T(t)};
          run(g, ALL_GATHER, [&] { return g->pg->allgather(outputs, inputs); });)
}

int th_dist_barrier(th_pg g) {
  PROTECT(agree(g, BARRIER, nullptr, -1, -1);
          run(g, BARRIER, [&] { return g->pg->barrier(); });)
}
