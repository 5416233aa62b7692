// Bids in batches (Jacobi bidding): the free rows of a batch all read one snapshot of the prices,
// then their bids are applied one by one.  Internal: included by sparse_lap.cpp and
// sparse_auction.cpp, and by table_solver.hpp for best_two.
//
// A Gauss-Seidel auction reads the prices its previous bid left, and the row its bid evicts bids
// next.  Here a batch of free rows reads one snapshot of the prices; the bids are then applied in
// the batch's order, and a bid whose column another bid of the same batch has changed is not
// applied: its row goes back to the queue and bids again from the new prices.  The others stay
// valid, because prices only rise within a batch: a row's second-best value read from the
// snapshot is at most its true one, so the row ends tight (within eps, in the auction) at its
// column and every other column costs it at least as much (Bertsekas and Castanon, "Parallel
// synchronous and asynchronous implementations of the auction algorithm", Parallel Computing 17,
// 1991).  The evicted rows bid after the batch.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "sparse_lap.hpp"

namespace lightrnn {
namespace lap_detail {

// Free rows a batch takes (fewer when fewer are free).  On real loss matrices the row reduction
// makes fewer bids in batches than one at a time (an evicted row bids again after the batch, not
// at once, which damps the back-and-forth of two rows over one column); much larger batches redo
// many bids (figures in docs/NOTES.md, "Bids in batches").
constexpr size_t kBidBatch = 256;

// A row's two least values c + p over its arcs (ties: the smaller column first).
struct RowBid {
    int32_t j1 = -1, j2 = -1;
    double v1 = 0.0, v2 = 0.0;
};

inline RowBid best_two(const CsrGraph& g, const double* p, int32_t i) {
    double v1 = std::numeric_limits<double>::infinity(), v2 = v1;
    int32_t j1 = -1, j2 = -1;
    for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
        const int32_t j = g.indices[a];
        const double v = g.cost[a] + p[j];
        if (v < v1 || (v == v1 && j < j1)) {
            v2 = v1;
            j2 = j1;
            v1 = v;
            j1 = j;
        } else if (v < v2 || (v == v2 && j < j2)) {
            v2 = v;
            j2 = j;
        }
    }
    return {j1, j2, v1, v2};
}

// Helper threads that compute a batch's bids with the calling thread, for the life of one auction
// phase or row reduction.  They pay at large vocabularies, where a row reduction frees most rows
// at once and the prices and arcs no longer fit a core's cache.  Between batches each side spins
// a little, then sleeps; beside other jobs a helper is often descheduled while the calling thread
// waits for it, and the waits grew longer than the work, so a call that waits more than it works
// goes on alone (figures in docs/NOTES.md, "Bids in batches").
class BatchWorkers {
public:
    explicit BatchWorkers(int threads) : threads_(std::max(1, threads)) {
        for (int t = 1; t < threads_; ++t) pool_.emplace_back([this, t] { loop(t); });
    }
    ~BatchWorkers() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
            generation_.fetch_add(1);
        }
        work_ready_.notify_all();
        for (auto& th : pool_) th.join();
    }
    BatchWorkers(const BatchWorkers&) = delete;
    BatchWorkers& operator=(const BatchWorkers&) = delete;

    // Below this many items a batch runs on the calling thread alone (the hand-off costs more).
    static constexpr int64_t kMinParallel = 64;

    // Runs f(begin, end) over contiguous chunks of [0, n), the first on the calling thread.
    template <typename F>
    void run(int64_t n, F&& f) {
        if (threads_ == 1 || n < kMinParallel || alone_) {
            f(int64_t{0}, n);
            return;
        }
        const auto t0 = std::chrono::steady_clock::now();
        job_ = [&f](int64_t b, int64_t e) { f(b, e); };
        n_ = n;
        pending_.store(threads_ - 1);
        generation_.fetch_add(1);
        if (sleeping_.load() > 0) {
            std::lock_guard<std::mutex> lock(mutex_);
            work_ready_.notify_all();
        }
        f(int64_t{0}, n_ / threads_);
        const auto t1 = std::chrono::steady_clock::now();
        if (!spin_until([this] { return pending_.load() == 0; })) {
            std::unique_lock<std::mutex> lock(mutex_);
            ++main_sleeping_;
            work_done_.wait(lock, [this] { return pending_.load() == 0; });
            --main_sleeping_;
        }
        // Beside other jobs the helpers may be descheduled: once the waits for them add up to
        // more than the calling thread's own share of the work, it goes on alone.
        own_ += t1 - t0;
        waited_ += std::chrono::steady_clock::now() - t1;
        alone_ = ++batches_ >= kTrialBatches && waited_ > own_;
    }

private:
    // Spins about 20 microseconds for `ready`; false if it did not come.
    template <typename Ready>
    static bool spin_until(Ready&& ready) {
        for (int s = 0; s < 8192; ++s) {
            if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        return ready();
    }

    void loop(int t) {
        uint64_t seen = 0;
        while (true) {
            if (!spin_until([&] { return generation_.load() != seen; })) {
                std::unique_lock<std::mutex> lock(mutex_);
                sleeping_.fetch_add(1);
                work_ready_.wait(lock, [&] { return generation_.load() != seen; });
                sleeping_.fetch_sub(1);
            }
            seen = generation_.load();
            if (stop_) return;
            job_(n_ * t / threads_, n_ * (t + 1) / threads_);
            if (pending_.fetch_sub(1) == 1 && main_sleeping_.load() > 0) {
                std::lock_guard<std::mutex> lock(mutex_);
                work_done_.notify_one();
            }
        }
    }

    static constexpr int64_t kTrialBatches = 64;

    const int threads_;
    bool alone_ = false;
    int64_t batches_ = 0;
    std::chrono::steady_clock::duration own_{}, waited_{};
    std::vector<std::thread> pool_;
    std::function<void(int64_t, int64_t)> job_;
    int64_t n_ = 0;
    // Sequentially consistent throughout: a side that goes to sleep first counts itself, then
    // looks again, so the other side either sees the count or the sleeper sees the news.
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0}, sleeping_{0}, main_sleeping_{0};
    bool stop_ = false;  // written under mutex_ before the last generation
    std::mutex mutex_;
    std::condition_variable work_ready_, work_done_;
};

// One batch of bids at a time: its rows, their bids, and for each column the last batch that
// changed its price or owner (a bid that read such a column is made again).
class BidBatch {
public:
    explicit BidBatch(int32_t n_cols) : changed_(static_cast<size_t>(n_cols), 0) {}

    // Takes up to kBidBatch rows from the back of `queue` (the last first) and computes their bids
    // against the prices `p` on the workers' threads.
    void take(const CsrGraph& g, const double* p, std::vector<int32_t>& queue, BatchWorkers& workers) {
        const size_t n = std::min(queue.size(), kBidBatch);
        rows.assign(queue.rbegin(), queue.rbegin() + static_cast<std::ptrdiff_t>(n));
        queue.resize(queue.size() - n);
        bids.resize(n);
        workers.run(static_cast<int64_t>(n), [&](int64_t b, int64_t e) {
            for (int64_t k = b; k < e; ++k) bids[k] = best_two(g, p, rows[k]);
        });
        if (++id_ == 0) {  // wrapped: no old mark may match a new batch
            std::fill(changed_.begin(), changed_.end(), 0);
            id_ = 1;
        }
    }
    // Whether a bid of this batch has changed column j.
    bool changed(int32_t j) const { return changed_[j] == id_; }
    void mark_changed(int32_t j) { changed_[j] = id_; }

    std::vector<int32_t> rows;
    std::vector<RowBid> bids;

private:
    std::vector<uint32_t> changed_;
    uint32_t id_ = 0;
};

}  // namespace lap_detail

using lap_detail::BatchWorkers;
using lap_detail::best_two;
using lap_detail::BidBatch;
using lap_detail::kBidBatch;
using lap_detail::RowBid;

}  // namespace lightrnn
