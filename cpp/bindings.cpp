// pybind11 binding of the assignment core: the private module `lightrnn._assign`.
// Validation of values (NaN, -inf, shapes, overflow) is done once in lightrnn/assign.py, with
// messages that name the argument and index; this layer checks what it must to stay memory-safe
// (the core refuses non-finite and overflowing costs and bad options on its own too), releases
// the GIL during solves, and turns Ctrl-C into KeyboardInterrupt.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <string>

#include "assign/sparse_lap.hpp"
#include "assign/structured.hpp"

namespace py = pybind11;
using namespace lightrnn;

namespace {

// Called with the GIL released: briefly take it to let Python run signal handlers.
bool python_interrupted() {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
}

template <typename Fn>
auto run_released(Fn&& fn) {
    try {
        py::gil_scoped_release release;
        return fn();
    } catch (const Interrupted&) {
        // The signal handler has set KeyboardInterrupt (or whatever it raised); keep it.
        if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
        throw py::error_already_set();
    } catch (const Infeasible& e) {
        throw py::value_error(e.what());
    } catch (const std::invalid_argument& e) {
        throw py::value_error(e.what());
    }
}

template <typename T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

py::tuple solve_sparse(CArray<int64_t> indptr, CArray<int32_t> indices, CArray<double> cost,
                       int32_t n_rows, int32_t n_cols, const std::string& method) {
    if (n_rows < 0 || n_cols < 0) throw py::value_error("n_rows and n_cols must be >= 0");
    if (indptr.ndim() != 1 || indptr.shape(0) != static_cast<py::ssize_t>(n_rows) + 1)
        throw py::value_error("indptr must have n_rows + 1 entries");
    const int64_t* ip = indptr.data();
    const int64_t nnz = ip[n_rows];
    if (indices.ndim() != 1 || cost.ndim() != 1 || indices.shape(0) != nnz || cost.shape(0) != nnz)
        throw py::value_error("indices and data must have indptr[-1] entries");
    for (int32_t i = 0; i < n_rows; ++i)
        if (ip[i] > ip[i + 1] || ip[i] < 0) throw py::value_error("indptr must be non-decreasing from 0");
    const int32_t* ix = indices.data();
    for (int64_t a = 0; a < nnz; ++a)
        if (ix[a] < 0 || ix[a] >= n_cols) throw py::value_error("column index out of range");
    CsrGraph g{n_rows, n_cols, ip, ix, cost.data()};
    if (method != "auction" && method != "ssp") throw py::value_error("method must be 'ssp' or 'auction', got '" + method + "'");
    LapState st = run_released([&] { return solve_checked(g, method == "auction", python_interrupted); });
    py::array_t<int32_t> r2c(n_rows);
    std::copy(st.row_to_col.begin(), st.row_to_col.end(), r2c.mutable_data());
    py::array_t<double> u(n_rows), p(n_cols);
    std::copy(st.u.begin(), st.u.end(), u.mutable_data());
    std::copy(st.p.begin(), st.p.end(), p.mutable_data());
    return py::make_tuple(r2c, u, p, st.augmentations);
}

template <typename T>
py::dict solve_table_t(CArray<T> Lr, CArray<T> Lc, py::object current_rows, py::object current_cols,
                       int32_t n_rows, int32_t n_cols, int32_t k, int32_t max_rounds, int32_t max_add,
                       int32_t threads, double rel_tol, const std::string& method, double max_seconds,
                       double gap_tol) {
    if (Lr.ndim() != 2 || Lc.ndim() != 2) throw py::value_error("L_r must be (V, R) and L_c (V, C)");
    if (Lr.shape(0) > std::numeric_limits<int32_t>::max()) throw py::value_error("more than 2^31 - 1 words");
    const int32_t V = static_cast<int32_t>(Lr.shape(0));
    if (Lc.shape(0) != V || Lr.shape(1) != n_rows || Lc.shape(1) != n_cols)
        throw py::value_error("L_r must be (V, R) and L_c (V, C)");
    CArray<int32_t> cr, cc;
    const int32_t* crp = nullptr;
    const int32_t* ccp = nullptr;
    if (!current_rows.is_none()) {
        cr = current_rows.cast<CArray<int32_t>>();
        cc = current_cols.cast<CArray<int32_t>>();
        if (cr.ndim() != 1 || cc.ndim() != 1 || cr.shape(0) != V || cc.shape(0) != V)
            throw py::value_error("current must hold V rows and columns");
        crp = cr.data();
        ccp = cc.data();
    }
    TableOptions opt;
    opt.k = k;
    opt.max_rounds = max_rounds;
    opt.max_add_per_word = max_add;
    opt.threads = threads;
    opt.rel_tol = rel_tol;
    opt.max_seconds = max_seconds;
    opt.gap_tol = gap_tol;
    opt.method = method == "auction" ? TableMethod::Auction
                 : method == "ssp"   ? TableMethod::ShortestPath
                                     : TableMethod::Auto;
    const T* lr = Lr.data();
    const T* lc = Lc.data();
    TableResult res = run_released([&] {
        return solve_table<T>(lr, lc, V, n_rows, n_cols, crp, ccp, opt, python_interrupted);
    });
    py::array_t<int32_t> rows(V), cols(V);
    std::copy(res.rows.begin(), res.rows.end(), rows.mutable_data());
    std::copy(res.cols.begin(), res.cols.end(), cols.mutable_data());
    py::dict d;
    d["rows"] = rows;
    d["cols"] = cols;
    d["objective"] = res.objective;
    d["current_objective"] = res.current_objective;
    d["lower_bound"] = res.lower_bound;
    d["certified"] = res.certified;
    d["stopped"] = res.stopped;
    d["pricing_rounds"] = res.pricing_rounds;
    d["lazy_rounds"] = res.lazy_rounds;
    d["arcs"] = res.arcs;
    d["augmentations"] = res.augmentations;
    d["auction_bids"] = res.auction_bids;
    d["method"] = res.method;
    d["greedy_seeded"] = res.greedy_seeded;
    d["time_candidates"] = res.time_candidates;
    d["time_solve"] = res.time_solve;
    d["time_pricing"] = res.time_pricing;
    return d;
}

}  // namespace

PYBIND11_MODULE(_assign, m) {
    m.doc() = "Exact sparse and structured (LightRNN) assignment solvers; use lightrnn.assign.";
    m.def("solve_sparse", &solve_sparse, py::arg("indptr"), py::arg("indices"), py::arg("cost"),
          py::arg("n_rows"), py::arg("n_cols"), py::arg("method") = "ssp");
    m.def("auto_candidates", &auto_candidates, py::arg("V"));
    m.def("solve_table_f32", &solve_table_t<float>);
    m.def("solve_table_f64", &solve_table_t<double>);
}
