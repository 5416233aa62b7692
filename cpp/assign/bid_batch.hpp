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

#include "row_kernels.hpp"  // LIGHTRNN_SSE2 and lesser_half
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

// A row's two least values c + p over its arcs (ties: the smaller column first): the least
// (value, column) pair, then the least of the others.  One pass that compares each arc with the
// best two so far waits on every comparison, and bids are most of an auction's and a row
// reduction's time; here the values go to a buffer with their least (v1), and one SSE2 pass
// over the buffer finds the arcs at v1 (rare: compared one by one) and the least value of the
// others; a last pass finds that value's arc when v1 was not tied (figures in docs/NOTES.md,
// "Bids in batches").  Rows longer than the buffer take the single pass.
inline RowBid best_two(const CsrGraph& g, const double* p, int32_t i) {
    constexpr double kInfValue = std::numeric_limits<double>::infinity();
    constexpr int64_t kBuffer = 512;
    const int64_t a0 = g.indptr[i], n = g.indptr[i + 1] - a0;
    const int32_t* cols = g.indices + a0;
    const double* cost = g.cost + a0;
    RowBid b;
    b.v1 = b.v2 = kInfValue;
    if (n > kBuffer) {
        for (int64_t a = 0; a < n; ++a) {
            const int32_t j = cols[a];
            const double v = cost[a] + p[j];
            if (v < b.v1 || (v == b.v1 && j < b.j1)) {
                b.v2 = b.v1;
                b.j2 = b.j1;
                b.v1 = v;
                b.j1 = j;
            } else if (v < b.v2 || (v == b.v2 && j < b.j2)) {
                b.v2 = v;
                b.j2 = j;
            }
        }
        return b;
    }
    double v[kBuffer];
    double m1 = kInfValue;
    int64_t a = 0;
#ifdef LIGHTRNN_SSE2
    __m128d mm = _mm_set1_pd(kInfValue), mm2 = mm;
    for (; a + 4 <= n; a += 4) {
        const __m128d x = _mm_add_pd(_mm_loadu_pd(cost + a), _mm_set_pd(p[cols[a + 1]], p[cols[a]]));
        const __m128d y = _mm_add_pd(_mm_loadu_pd(cost + a + 2), _mm_set_pd(p[cols[a + 3]], p[cols[a + 2]]));
        _mm_storeu_pd(v + a, x);
        _mm_storeu_pd(v + a + 2, y);
        mm = _mm_min_pd(mm, x);
        mm2 = _mm_min_pd(mm2, y);
    }
    mm = _mm_min_pd(mm, mm2);
    m1 = row_kernels::lesser_half(mm);
#endif
    for (; a < n; ++a) {
        v[a] = cost[a] + p[cols[a]];
        m1 = std::min(m1, v[a]);
    }
    if (!(m1 < kInfValue)) return b;  // as the single pass: an infinite value is never taken
    // The arcs at m1 (the least two by column, first occurrence first) and the least other value.
    int64_t e1 = -1, e2 = -1;
    auto tied = [&](int64_t t) {
        if (e1 < 0 || cols[t] < cols[e1]) {
            e2 = e1;
            e1 = t;
        } else if (e2 < 0 || cols[t] < cols[e2]) {
            e2 = t;
        }
    };
    double rest = kInfValue;
    a = 0;
#ifdef LIGHTRNN_SSE2
    const __m128d m1v = _mm_set1_pd(m1), inf = _mm_set1_pd(kInfValue);
    __m128d rv = inf;
    for (; a + 2 <= n; a += 2) {
        const __m128d x = _mm_loadu_pd(v + a);
        const __m128d eq = _mm_cmpeq_pd(x, m1v);
        rv = _mm_min_pd(rv, _mm_or_pd(_mm_andnot_pd(eq, x), _mm_and_pd(eq, inf)));
        const int mask = _mm_movemask_pd(eq);
        if (mask & 1) tied(a);
        if (mask & 2) tied(a + 1);
    }
    rest = row_kernels::lesser_half(rv);
#endif
    for (; a < n; ++a) {
        if (v[a] == m1)
            tied(a);
        else
            rest = std::min(rest, v[a]);
    }
    b.j1 = cols[e1];
    b.v1 = v[e1];
    int64_t a2 = e2;
    if (a2 < 0 && rest < kInfValue)
        for (a = 0; a < n; ++a)
            if (v[a] == rest && (a2 < 0 || cols[a] < cols[a2])) a2 = a;
    if (a2 >= 0) {
        b.j2 = cols[a2];
        b.v2 = v[a2];
    }
    return b;
}

// best_two for rows[0..n) into out[0..n), with software prefetches a few rows ahead.  A batch's
// rows lie anywhere in the graph, so at large vocabularies each bid waited on two cache misses
// one after the other: the row's offsets, then its arcs.  Each is fetched here a few rows before
// it is read (the prices too, a third stage, gained nothing; figures in docs/NOTES.md, "Bids in
// batches").  The bids are the same.
inline void best_two_rows(const CsrGraph& g, const double* p, const int32_t* rows, RowBid* out, int64_t n) {
    constexpr int64_t kOffsetsAhead = 12, kArcsAhead = 6;
    constexpr int64_t kIndicesPerLine = 64 / sizeof(int32_t), kCostsPerLine = 64 / sizeof(double);
    for (int64_t k = 0; k < std::min(n, kOffsetsAhead); ++k) __builtin_prefetch(g.indptr + rows[k]);
    for (int64_t k = 0; k < n; ++k) {
        if (k + kOffsetsAhead < n) __builtin_prefetch(g.indptr + rows[k + kOffsetsAhead]);
        if (k + kArcsAhead < n) {
            const int32_t i = rows[k + kArcsAhead];
            const int64_t a0 = g.indptr[i], a1 = g.indptr[i + 1];
            for (int64_t a = a0; a < a1; a += kIndicesPerLine) __builtin_prefetch(g.indices + a);
            for (int64_t a = a0; a < a1; a += kCostsPerLine) __builtin_prefetch(g.cost + a);
        }
        out[k] = best_two(g, p, rows[k]);
    }
}

// Helper threads that compute a batch's bids with the calling thread, for the life of one auction
// phase or row reduction.  They pay at large vocabularies, where a row reduction frees most rows
// at once and the prices and arcs no longer fit a core's cache.  Between batches each side spins
// a little, then sleeps; beside other jobs a helper is often descheduled while the calling thread
// waits for it, and the waits grew longer than the work, so a call that waits more than it works
// goes on alone (figures in docs/NOTES.md, "Bids in batches").
class BatchWorkers {
public:
    // `rows`: the problem's rows.  Below kMinHelperRows the calling thread bids alone.
    BatchWorkers(int threads, int64_t rows) : threads_(rows >= kMinHelperRows ? std::max(1, threads) : 1) {
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
    // Problems below this many rows bid on the calling thread alone: their prices and arcs fit a
    // core's cache, and each phase's hand-offs to a helper (woken from sleep at the start of
    // every phase) cost more than its share of the bids (synthetic 4,096 words: 0.061-0.067 s on
    // two threads against 0.038-0.039 s on one; figures in docs/NOTES.md, "Bids in batches").
    static constexpr int64_t kMinHelperRows = 131072;

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
            best_two_rows(g, p, rows.data() + b, bids.data() + b, e - b);
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
