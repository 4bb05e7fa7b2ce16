//! What every job does with its result: save it under `--output` (part files) and report a
//! short summary (record count and the first few records in the job's order) on the driver.

use std::cmp::Ordering;
use std::fmt::Debug;
use std::sync::Arc;

use weir_engine::{JobContext, Result};
use weir_operators::prelude::*;

/// Records shown in the summary.
pub const TOP: usize = 10;

/// The result's size and its first records in the job's order.
#[derive(Debug, Clone)]
pub struct Summary<T> {
    pub records: u64,
    pub top: Vec<T>,
}

/// Saves `ds` under `--output` when given, then computes its record count and its first
/// [`TOP`] records by `order` (one pass over the persisted result).
pub fn save_or_show<T: Data + Row>(
    ctx: &JobContext,
    ds: &Dataset<T>,
    order: impl Fn(&T, &T) -> Ordering + Send + Sync + 'static,
) -> Result<Summary<T>> {
    let ds = if ctx.options().output.is_some() {
        ds.persist()
    } else {
        ds.clone()
    };
    if let Some(dir) = ctx.options().output.clone() {
        let saved = ds.save(&dir)?;
        if ctx.should_print() {
            eprintln!(
                "wrote {} records in {} part files to {}",
                saved.records,
                saved.parts,
                dir.display()
            );
        }
    }
    let order = Arc::new(order);
    let o = order.clone();
    let partials = ds
        .map_partitions(move |_, records| {
            let mut count = 0u64;
            let mut best: Vec<T> = Vec::with_capacity(TOP + 1);
            for r in records {
                count += 1;
                let at = best.partition_point(|b| o(b, &r) != Ordering::Greater);
                if at < TOP {
                    best.insert(at, r);
                    best.truncate(TOP);
                }
            }
            std::iter::once((count, best))
        })
        .collect()?;
    let records = partials.iter().map(|p| p.0).sum();
    let mut top: Vec<T> = partials.into_iter().flat_map(|p| p.1).collect();
    top.sort_by(|a, b| order(a, b));
    top.truncate(TOP);
    Ok(Summary { records, top })
}

/// Prints the summary lines on the driver.
pub fn report_top<T: Debug>(ctx: &JobContext, title: &str, top: &[T]) {
    if ctx.should_print() && !top.is_empty() {
        println!("{title}:");
        for t in top {
            println!("  {t:?}");
        }
    }
}
