# Type stub of the private C++ module; the public API is lightrnn.assign.
import numpy as np
import numpy.typing as npt

def solve_sparse(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    cost: npt.NDArray[np.float64],
    n_rows: int,
    n_cols: int,
    method: str = "ssp",
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64], int]: ...
def auto_candidates(V: int) -> int: ...
def solve_table_f32(
    Lr: npt.NDArray[np.float32], Lc: npt.NDArray[np.float32],
    current_rows: npt.NDArray[np.int32] | None, current_cols: npt.NDArray[np.int32] | None,
    n_rows: int, n_cols: int, k: int, max_rounds: int, max_add: int, threads: int,
    rel_tol: float, method: str, max_seconds: float, gap_tol: float,
) -> dict: ...
def solve_table_f64(
    Lr: npt.NDArray[np.float64], Lc: npt.NDArray[np.float64],
    current_rows: npt.NDArray[np.int32] | None, current_cols: npt.NDArray[np.int32] | None,
    n_rows: int, n_cols: int, k: int, max_rounds: int, max_add: int, threads: int,
    rel_tol: float, method: str, max_seconds: float, gap_tol: float,
) -> dict: ...
