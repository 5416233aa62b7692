// Bids in batches: the free rows' best and second-best columns computed side by side (threads),
// then applied one by one.  Internal: included by sparse_lap.cpp and sparse_auction.cpp only.
//
// A Gauss-Seidel auction reads the prices its previous bid left; its bids are cheap (a row's few
// dozen arcs) but many (tens of millions at 200,000 words), and one after the other.  Here a
// batch of free rows reads one snapshot of the prices, which several threads can do at once; the
// bids are then applied in the batch's order, and a bid whose column another bid of the same
// batch has changed is not applied: its row goes back to the queue and bids again from the new
// prices.  The others stay valid, because prices only rise within a batch: a row's second-best
// value read from the snapshot is at most its true one, so the row ends tight at its column and
// every other column costs it at least as much (Bertsekas and Castanon, "Parallel synchronous and
// asynchronous implementations of the auction algorithm", Parallel Computing 17, 1991).  The
// batches do not depend on the number of threads, so neither does the result.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <thread>
#include <vector>

#include "sparse_lap.hpp"

namespace lightrnn {
namespace lap_detail {

// Free rows a batch takes (fewer when fewer are free).  On real loss matrices the row reduction
// makes a third to a half fewer bids in batches of 256 than one at a time (an evicted row bids
// again after the batch, not at once, which damps the back-and-forth of two rows over one
// column); 64 to 1,024 were about as fast, and larger batches redo many bids (figures in
// docs/NOTES.md, "Bids in batches").
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

// Helper threads that run f(begin, end) over chunks of [0, n) with the calling thread, for the
// life of one auction or row reduction.  Between batches the helpers spin: a batch is tens of
// microseconds, too short to put a thread to sleep and wake it.
class BatchWorkers {
public:
    explicit BatchWorkers(int threads) : threads_(std::max(1, threads)) {
        for (int t = 1; t < threads_; ++t) pool_.emplace_back([this, t] { loop(t); });
    }
    ~BatchWorkers() {
        stop_.store(true, std::memory_order_release);
        generation_.fetch_add(1, std::memory_order_acq_rel);
        for (auto& th : pool_) th.join();
    }
    BatchWorkers(const BatchWorkers&) = delete;
    BatchWorkers& operator=(const BatchWorkers&) = delete;

    // Below this many items a batch runs on the calling thread alone (the hand-off costs more).
    static constexpr int64_t kMinParallel = 64;

    template <typename F>
    void run(int64_t n, F&& f) {
        if (threads_ == 1 || n < kMinParallel) {
            f(int64_t{0}, n);
            return;
        }
        job_ = [&f](int64_t b, int64_t e) { f(b, e); };
        n_ = n;
        pending_.store(threads_ - 1, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_acq_rel);
        f(int64_t{0}, chunk_end(0));
        while (pending_.load(std::memory_order_acquire) > 0) pause();
    }

private:
    int64_t chunk_end(int t) const { return n_ * (t + 1) / threads_; }

    static void pause() {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#else
        std::this_thread::yield();
#endif
    }

    void loop(int t) {
        uint64_t seen = 0;
        while (true) {
            uint64_t gen;
            int spins = 0;
            while ((gen = generation_.load(std::memory_order_acquire)) == seen) {
                if (++spins < 4096) {
                    pause();
                } else {
                    std::this_thread::yield();
                }
            }
            seen = gen;
            if (stop_.load(std::memory_order_acquire)) return;
            job_(n_ * t / threads_, chunk_end(t));
            pending_.fetch_sub(1, std::memory_order_acq_rel);
        }
    }

    const int threads_;
    std::vector<std::thread> pool_;
    std::function<void(int64_t, int64_t)> job_;
    int64_t n_ = 0;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
};

}  // namespace lap_detail

using lap_detail::BatchWorkers;
using lap_detail::best_two;
using lap_detail::kBidBatch;
using lap_detail::RowBid;

}  // namespace lightrnn
