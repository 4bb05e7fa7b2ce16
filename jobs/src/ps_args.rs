//! What every parameter-server job shares: the training options (`--epochs`, `--batch`,
//! `--optimizer`, `--consistency`, …), the per-epoch line on the terminal and the figures
//! in the metrics' result.

use weir_engine::{Error, JobContext, Result};
use weir_operators::ps::{
    rule_named, Consistency, EpochStats, Slowed, Straggler, TrainOptions, Trained,
};

/// Options every parameter-server job shares.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Passes over the training data.
    #[arg(long, default_value_t = 10)]
    pub epochs: u64,
    /// Examples per minibatch (per trainer).
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// The servers' update rule: sgd, adagrad or adam.
    #[arg(long, default_value = "adagrad")]
    pub optimizer: String,
    /// The update rule's learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub learning_rate: f32,
    /// bsp, ssp:S (at most S clocks ahead of the slowest trainer) or asp.
    #[arg(long, default_value = "bsp")]
    pub consistency: Consistency,
    /// Server shards (default: one per worker).
    #[arg(long)]
    pub servers: Option<u32>,
    /// Trainers, one per data partition (default: one per task slot).
    #[arg(long)]
    pub trainers: Option<usize>,
    /// Seeds the minibatches' order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A straggler, to measure the consistency models: `W:F` slows worker W's trainers by
    /// factor F; `rotate:F:K` slows one trainer at a time by F, each for K clocks in turn.
    #[arg(long, value_parser = parse_straggler)]
    pub straggler: Option<Straggler>,
    /// Averaged SGD: evaluate and write the model's mean over the updates from epoch E on
    /// (0: all of them) instead of its last values, which a constant step leaves
    /// jittering around the optimum.
    #[arg(long, value_name = "E")]
    pub average: Option<u64>,
}

fn parse_straggler(text: &str) -> std::result::Result<Straggler, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let factor = |f: &str| {
        f.parse()
            .ok()
            .filter(|f: &f64| f.is_finite() && *f >= 1.0)
            .ok_or_else(|| format!("straggler factor {f:?} is not a number ≥ 1"))
    };
    match parts[..] {
        ["rotate", f, k] => {
            let clocks = k.parse().ok().filter(|k: &u64| *k > 0).ok_or_else(|| {
                format!("straggler turn {k:?} is not a positive number of clocks")
            })?;
            Ok(Straggler {
                slowed: Slowed::Rotating { clocks },
                factor: factor(f)?,
            })
        }
        [w, f] => {
            let worker = w
                .parse()
                .map_err(|_| format!("straggler worker {w:?} is not a number"))?;
            Ok(Straggler {
                slowed: Slowed::Worker(worker),
                factor: factor(f)?,
            })
        }
        _ => Err(format!(
            "straggler {text:?} is not WORKER:FACTOR or rotate:FACTOR:CLOCKS"
        )),
    }
}

impl TrainArgs {
    /// The run's options.
    pub fn options(&self) -> Result<TrainOptions> {
        let rule = rule_named(&self.optimizer, self.learning_rate).map_err(Error::Config)?;
        Ok(TrainOptions {
            epochs: self.epochs,
            batch: self.batch,
            consistency: self.consistency,
            servers: self.servers,
            seed: self.seed,
            rule,
            straggler: self.straggler,
            checkpoint_every: None,
            average_from: self.average,
            tolerance: None,
        })
    }
}

/// Prints an epoch's figures on the driver.
pub fn print_epoch(ctx: &JobContext, e: &EpochStats) {
    print_epoch_as(ctx, e, true)
}

/// Prints an epoch's figures on the driver: the held-out accuracy when `classifier`,
/// else the root mean squared errors (the loss being half the squared error).
pub fn print_epoch_as(ctx: &JobContext, e: &EpochStats, classifier: bool) {
    if !ctx.is_driver() || ctx.options().silent {
        return;
    }
    if !classifier {
        let rmse = |loss: f64| (2.0 * loss).sqrt();
        let mut line = format!(
            "epoch {:>3}  {:>7.2}s  train RMSE {:.6}",
            e.epoch,
            e.seconds,
            rmse(e.evaluation.mean_train_loss())
        );
        if let Some(loss) = e.evaluation.mean_test_loss() {
            line.push_str(&format!("  test RMSE {:.6}", rmse(loss)));
        }
        eprintln!("{line}");
        return;
    }
    let mut line = format!(
        "epoch {:>3}  {:>7.2}s  train loss {:.6}",
        e.epoch,
        e.seconds,
        e.evaluation.mean_train_loss()
    );
    if let Some(loss) = e.evaluation.mean_test_loss() {
        line.push_str(&format!("  test loss {loss:.6}"));
    }
    if let Some(accuracy) = e.evaluation.test_accuracy() {
        line.push_str(&format!("  test accuracy {accuracy:.4}"));
    }
    eprintln!("{line}");
}

/// Puts the final figures and the traffic in the metrics' result (the held-out accuracy
/// for a `classifier`).
pub fn report(ctx: &JobContext, trained: &Trained, classifier: bool) -> Result<()> {
    let stats = &trained.stats;
    let last = stats.last();
    ctx.set_result("loss", last.mean_train_loss());
    if let Some(loss) = last.mean_test_loss() {
        ctx.set_result("test_loss", loss);
    }
    if let Some(accuracy) = last.test_accuracy().filter(|_| classifier) {
        ctx.set_result("test_accuracy", accuracy);
    }
    ctx.set_result("epochs", stats.epochs.last().map_or(0, |e| e.epoch));
    ctx.set_result("clocks_per_epoch", stats.clocks_per_epoch);
    ctx.set_result("trainers", stats.trainers);
    ctx.set_result("servers", stats.servers);
    ctx.set_result("bytes_pulled", stats.traffic.pulled_bytes);
    ctx.set_result("bytes_pushed", stats.traffic.pushed_bytes);
    ctx.set_result("bytes_touched", stats.traffic.touched_bytes);
    ctx.set_result("max_staleness", stats.traffic.max_staleness);
    ctx.set_result("history", &stats.epochs);
    ctx.set_result("curve", &stats.curve);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straggler_is_a_worker_or_a_turn_and_bad_ones_are_refused() {
        let fixed = parse_straggler("1:3").unwrap();
        assert_eq!((fixed.slowed, fixed.factor), (Slowed::Worker(1), 3.0));
        let turns = parse_straggler("rotate:2.5:4").unwrap();
        assert_eq!(turns.slowed, Slowed::Rotating { clocks: 4 });
        assert_eq!(turns.factor, 2.5);
        for bad in [
            "1",
            "x:3",
            "1:0.5",
            "rotate:3",
            "rotate:3:0",
            "rotate:nan:4",
            "1:3:4",
        ] {
            assert!(parse_straggler(bad).is_err(), "{bad}");
        }
    }
}
