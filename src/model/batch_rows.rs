//! Row-wise steps of a prefill batch (norms, residual adds, activation quantization) spread
//! over the session's threads. Every row (every quantization block) gets the same result
//! whichever thread computes it, so the split changes no bits; small inputs (a decode step's
//! one row) stay on the calling thread, where handing them over would cost more than the work.

use std::ops::Range;

use super::error::ModelError;
use crate::worker_pool::{part, WorkerPool};

/// Fewest rows of a batch worth handing to the other threads.
pub(super) const MIN_ROWS: usize = 8;

/// Fewest elements of an activation quantization worth handing to the other threads.
pub(super) const MIN_ELEMENTS: usize = 8192;

/// Runs `f` on parts of `0..len` whose boundaries are multiples of `align`: one part per
/// thread when `len >= min`, else `f(0..len)` here.
pub(super) fn over_parts(
    pool: &mut WorkerPool,
    len: usize,
    align: usize,
    min: usize,
    f: &(dyn Fn(Range<usize>) -> Result<(), ModelError> + Sync),
) -> Result<(), ModelError> {
    let n = pool.n_threads();
    if n <= 1 || len < min {
        return f(0..len);
    }
    pool.run(n, &|c, _| f(part(len, c, n, align)))
}
