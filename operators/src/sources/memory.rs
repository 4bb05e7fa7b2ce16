//! In-memory and generated sources: `parallelize` and `generate`.

use std::sync::Arc;

use weir_engine::JobContext;
use weir_engine::Result;

use crate::dataset::{Data, Dataset, NodeBuilder};

/// Contiguous slice bounds of `len` items cut into `parts`.
pub(crate) fn slice_bounds(len: u64, parts: usize, i: usize) -> (u64, u64) {
    let parts = parts.max(1) as u64;
    let i = i as u64;
    (len * i / parts, len * (i + 1) / parts)
}

pub(crate) fn parallelize<T: Data>(
    ctx: &JobContext,
    data: Vec<T>,
    partitions: usize,
) -> Result<Dataset<T>> {
    // The driver's copy is the one every process uses.
    let data: Arc<Vec<T>> = Arc::new(ctx.driver_value(move || Ok(data))?);
    let parts = partitions.max(1);
    Ok(
        NodeBuilder::new("parallelize", parts, vec![]).build(ctx, move |p, _tc| {
            let (lo, hi) = slice_bounds(data.len() as u64, parts, p);
            let data = data.clone();
            Ok(Box::new(
                (lo as usize..hi as usize).map(move |i| data[i].clone()),
            ))
        }),
    )
}

pub(crate) fn generate<T: Data>(
    ctx: &JobContext,
    count: u64,
    partitions: usize,
    f: impl Fn(u64) -> T + Send + Sync + 'static,
) -> Result<Dataset<T>> {
    let parts = partitions.max(1);
    let f = Arc::new(f);
    Ok(
        NodeBuilder::new("generate", parts, vec![]).build(ctx, move |p, tc| {
            let (lo, hi) = slice_bounds(count, parts, p);
            tc.with_metrics(|m| m.records_in += hi - lo);
            let f = f.clone();
            Ok(Box::new((lo..hi).map(move |i| f(i))))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_everything_once() {
        for len in [0u64, 1, 7, 100] {
            for parts in 1..9 {
                let mut next = 0;
                for i in 0..parts {
                    let (lo, hi) = slice_bounds(len, parts, i);
                    assert_eq!(lo, next);
                    next = hi;
                }
                assert_eq!(next, len);
            }
        }
    }
}
