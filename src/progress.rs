//! Terminal progress bars for running stages (tasks done of total, records, bytes), shown
//! only when stderr is a terminal and `--quiet` is not given.

use std::collections::HashMap;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressStyle};
use std::sync::Mutex;

use weir_engine::scheduler::ProgressSink;

struct StageBar {
    bar: ProgressBar,
    records: u64,
    bytes: u64,
}

/// Progress bars, one per stage.
pub struct Bars {
    multi: MultiProgress,
    stages: Mutex<HashMap<usize, StageBar>>,
}

impl Bars {
    pub fn new() -> Self {
        Bars {
            multi: MultiProgress::new(),
            stages: Mutex::new(HashMap::new()),
        }
    }
}

impl ProgressSink for Bars {
    fn stage_started(&self, stage: usize, name: &str, tasks: usize) {
        let mut stages = self.stages.lock().expect("progress lock");
        if let Some(s) = stages.get_mut(&stage) {
            s.bar.inc_length(tasks as u64);
            return;
        }
        let bar = self.multi.add(ProgressBar::new(tasks as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} tasks {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("stage {stage}"));
        bar.set_message(name.to_string());
        stages.insert(
            stage,
            StageBar {
                bar,
                records: 0,
                bytes: 0,
            },
        );
    }

    fn task_finished(&self, stage: usize, records: u64, bytes: u64) {
        let mut stages = self.stages.lock().expect("progress lock");
        if let Some(s) = stages.get_mut(&stage) {
            s.records += records;
            s.bytes += bytes;
            s.bar
                .set_message(format!("{} records, {}", s.records, HumanBytes(s.bytes)));
            s.bar.inc(1);
        }
    }

    fn stage_finished(&self, stage: usize) {
        if let Some(s) = self.stages.lock().expect("progress lock").get(&stage) {
            s.bar.finish();
        }
    }
}
