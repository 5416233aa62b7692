// The inner loops of pricing a word: on one row of the table, over every column, the least
// Lc[w, j] + p_ij and the columns whose value li + Lc[w, j] + p_ij is at most a limit; and the
// least of a word's costs.  GCC does not vectorise the plain loops (min reductions, and a
// compare-and-branch per column): on x86-64 the row loops use SSE2 (part of the base instruction
// set, so no dispatch), elsewhere plain loops; the least cost keeps four independent minima.
// All give the values of the plain loops (up to the sign of a zero): each sum is the same double
// operation in the same order, and the minimum of finite doubles does not depend on the order it
// is taken in.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#define LIGHTRNN_SSE2 1
#endif

namespace lightrnn {
namespace row_kernels {

#ifdef LIGHTRNN_SSE2
// The lesser of the two doubles of x.
inline double lesser_half(__m128d x) { return std::min(_mm_cvtsd_f64(x), _mm_cvtsd_f64(_mm_unpackhi_pd(x, x))); }
#endif

// min over j in [0, n) of a[j] + b[j] (a, b finite).
inline double min_of_sums(const double* a, const double* b, int32_t n) {
    double m = std::numeric_limits<double>::infinity();
    int32_t j = 0;
#ifdef LIGHTRNN_SSE2
    __m128d m0 = _mm_set1_pd(m), m1 = m0, m2 = m0, m3 = m0;
    for (; j + 8 <= n; j += 8) {
        m0 = _mm_min_pd(m0, _mm_add_pd(_mm_loadu_pd(a + j), _mm_loadu_pd(b + j)));
        m1 = _mm_min_pd(m1, _mm_add_pd(_mm_loadu_pd(a + j + 2), _mm_loadu_pd(b + j + 2)));
        m2 = _mm_min_pd(m2, _mm_add_pd(_mm_loadu_pd(a + j + 4), _mm_loadu_pd(b + j + 4)));
        m3 = _mm_min_pd(m3, _mm_add_pd(_mm_loadu_pd(a + j + 6), _mm_loadu_pd(b + j + 6)));
    }
    const __m128d m01 = _mm_min_pd(_mm_min_pd(m0, m1), _mm_min_pd(m2, m3));
    m = lesser_half(m01);
#endif
    for (; j < n; ++j) m = std::min(m, a[j] + b[j]);
    return m;
}

// min over j in [0, n) of a[j] as a double (a finite).
template <typename T>
inline double min_of(const T* a, int32_t n) {
    double m0 = std::numeric_limits<double>::infinity(), m1 = m0, m2 = m0, m3 = m0;
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        m0 = std::min(m0, static_cast<double>(a[j]));
        m1 = std::min(m1, static_cast<double>(a[j + 1]));
        m2 = std::min(m2, static_cast<double>(a[j + 2]));
        m3 = std::min(m3, static_cast<double>(a[j + 3]));
    }
    for (; j < n; ++j) m0 = std::min(m0, static_cast<double>(a[j]));
    return std::min(std::min(m0, m1), std::min(m2, m3));
}

// Calls f(j) for each j in [0, n), in increasing order, whose (li + a[j]) + b[j] <= limit(),
// where limit() may only fall between calls (it is read again after each call).
template <typename Limit, typename F>
inline void each_at_most(double li, const double* a, const double* b, int32_t n, Limit&& limit, F&& f) {
    int32_t j = 0;
#ifdef LIGHTRNN_SSE2
    const __m128d l = _mm_set1_pd(li);
    for (; j + 8 <= n; j += 8) {
        const __m128d lim = _mm_set1_pd(limit());
        // Bits t, t+1: columns j+t, j+t+1 at most the limit.
        auto pair_at_most = [&](int32_t t) {
            const __m128d v = _mm_add_pd(_mm_add_pd(l, _mm_loadu_pd(a + j + t)), _mm_loadu_pd(b + j + t));
            return _mm_movemask_pd(_mm_cmple_pd(v, lim)) << t;
        };
        const int mask = pair_at_most(0) | pair_at_most(2) | pair_at_most(4) | pair_at_most(6);
        if (mask == 0) continue;
        for (int t = 0; t < 8; ++t)
            if ((mask >> t & 1) && (li + a[j + t]) + b[j + t] <= limit()) f(j + t);
    }
#endif
    for (; j < n; ++j)
        if ((li + a[j]) + b[j] <= limit()) f(j);
}

}  // namespace row_kernels
}  // namespace lightrnn
