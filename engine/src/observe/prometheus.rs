//! The Prometheus text exposition of a run (`/metrics`): the job's state, task attempts by
//! state, each stage's progress and bytes, each worker's tasks, busy seconds, memory and
//! shuffle bytes, and the latest Pregel superstep and parameter-server clocks.

use std::fmt::{Display, Write};

use super::view::{ClockView, RunView, StageView, WorkerView};

/// `view` in the Prometheus text format (version 0.0.4).
pub fn render(view: &RunView) -> String {
    let mut out = String::with_capacity(4096);
    job(&mut out, view);
    stages(&mut out, view);
    workers(&mut out, view);
    models(&mut out, view);
    out
}

/// A family's name, help, and how to read its value off a `T`.
type Series<T, V> = (&'static str, &'static str, fn(&T) -> V);

/// A metric family of `kind` (`gauge`, `counter`): its help, type and samples, each
/// `(labels, value)` with the labels as `k="v",…` (or empty).
fn family<L: Display, V: Display>(
    out: &mut String,
    (name, kind, help): (&str, &str, &str),
    samples: impl IntoIterator<Item = (L, V)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let labels = labels.to_string();
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

fn job(out: &mut String, view: &RunView) {
    let job = &view.job;
    let label = format!("job=\"{}\"", escape(&job.name));
    let running = u8::from(job.state == "running");
    let ok = u8::from(job.state == "finished");
    let gauge = |name, help| (name, "gauge", help);
    family(
        out,
        gauge("weir_job_running", "1 while the job runs."),
        [(&label, running)],
    );
    let help = "1 once the job finished successfully.";
    family(out, gauge("weir_job_succeeded", help), [(&label, ok)]);
    let help = "Seconds since the job started (to its end).";
    family(
        out,
        gauge("weir_job_seconds", help),
        [(&label, job.seconds)],
    );
    family(
        out,
        gauge("weir_events", "Events recorded so far."),
        [("", view.events)],
    );
    let (done, failed, running_tasks) = view.task_counts();
    let states = [
        ("succeeded", done),
        ("failed", failed),
        ("running", running_tasks),
    ];
    family(
        out,
        gauge("weir_tasks", "Task attempts by state."),
        states.map(|(s, n)| (format!("state=\"{s}\""), n)),
    );
}

fn stages(out: &mut String, view: &RunView) {
    let by_state = view.stages.iter().flat_map(|s| {
        [
            ("partitions", s.tasks),
            ("succeeded", s.succeeded),
            ("failed", s.failed),
            ("running", s.running),
        ]
        .map(|(state, n)| (format!("stage=\"{}\",state=\"{state}\"", s.id), n))
    });
    let help = "A stage's partitions, and its task attempts by state.";
    family(out, ("weir_stage_tasks", "gauge", help), by_state);
    let totals: [Series<StageView, u64>; 4] = [
        (
            "weir_stage_records_in_total",
            "Records a stage's successful tasks read.",
            |s| s.records_in,
        ),
        (
            "weir_stage_records_out_total",
            "Records a stage's successful tasks wrote.",
            |s| s.records_out,
        ),
        (
            "weir_stage_shuffle_read_bytes_total",
            "Shuffle bytes a stage read.",
            |s| s.shuffle_read_bytes,
        ),
        (
            "weir_stage_shuffle_write_bytes_total",
            "Shuffle bytes a stage wrote.",
            |s| s.shuffle_write_bytes,
        ),
    ];
    for (name, help, value) in totals {
        let samples = view
            .stages
            .iter()
            .map(|s| (format!("stage=\"{}\"", s.id), value(s)));
        family(out, (name, "counter", help), samples);
    }
}

fn workers(out: &mut String, view: &RunView) {
    let per_worker = |f: fn(&WorkerView) -> f64| {
        view.workers
            .values()
            .map(move |w| (format!("worker=\"{}\"", w.id), f(w)))
    };
    let help = "1 while the worker is alive.";
    family(
        out,
        ("weir_worker_up", "gauge", help),
        per_worker(|w| f64::from(u8::from(w.state == "alive"))),
    );
    let help = "Task attempts a worker finished successfully.";
    family(
        out,
        ("weir_worker_tasks_total", "counter", help),
        per_worker(|w| w.tasks as f64),
    );
    let help = "Seconds of task attempts on a worker.";
    family(
        out,
        ("weir_worker_busy_seconds_total", "counter", help),
        per_worker(|w| w.busy_seconds),
    );
    let help = "A worker process's peak resident set.";
    family(
        out,
        ("weir_worker_peak_rss_bytes", "gauge", help),
        per_worker(|w| w.peak_rss_bytes as f64),
    );
    let by_source = view.workers.values().flat_map(|w| {
        w.read_from
            .iter()
            .map(move |(from, bytes)| (format!("worker=\"{}\",from=\"{from}\"", w.id), *bytes))
    });
    let help = "Shuffle bytes a worker read, by source worker.";
    family(
        out,
        ("weir_worker_shuffle_read_bytes_total", "counter", help),
        by_source,
    );
}

fn models(out: &mut String, view: &RunView) {
    if let Some(s) = view.supersteps.last() {
        let latest = [
            (
                "weir_pregel_superstep",
                "The latest Pregel superstep.",
                s.step,
            ),
            (
                "weir_pregel_active_vertices",
                "Active vertices of the latest superstep.",
                s.active_vertices,
            ),
            (
                "weir_pregel_messages",
                "Messages sent in the latest superstep.",
                s.messages,
            ),
        ];
        for (name, help, value) in latest {
            family(out, (name, "gauge", help), [("", value)]);
        }
    }
    if view.clocks.is_empty() {
        return;
    }
    let latest: [Series<ClockView, f64>; 3] = [
        (
            "weir_ps_clock",
            "A parameter-server trainer's latest clock.",
            |p| p.clock as f64,
        ),
        (
            "weir_ps_staleness",
            "The staleness a trainer's latest pulls ran at.",
            |p| p.staleness as f64,
        ),
        (
            "weir_ps_loss",
            "A trainer's latest mean minibatch loss.",
            |p| p.loss,
        ),
    ];
    for (name, help, value) in latest {
        let samples = view.clocks.iter().filter_map(|(trainer, points)| {
            Some((format!("trainer=\"{trainer}\""), value(points.last()?)))
        });
        family(out, (name, "gauge", help), samples);
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::event::{Event, Stamped, TaskFigures};

    #[test]
    fn renders_counts_from_events() {
        let at = |t: f64, event: Event| Stamped { t, event };
        let events = vec![
            at(
                0.0,
                Event::JobStart {
                    version: 1,
                    job: "w\"c".into(),
                    args: vec![],
                    workers: 1,
                    threads: 1,
                    unix_seconds: 1.0,
                    pid: 1,
                },
            ),
            at(
                0.1,
                Event::WorkerJoined {
                    worker: 0,
                    host: "h".into(),
                    pid: 2,
                    slots: 1,
                    address: "local".into(),
                },
            ),
            at(
                0.2,
                Event::TaskStart {
                    task: 0,
                    stage: 0,
                    partition: 0,
                    worker: 0,
                    slot: 0,
                    attempt: 0,
                    locality: crate::observe::Locality::Any,
                },
            ),
            at(
                0.3,
                Event::TaskEnd {
                    task: 0,
                    stage: 0,
                    partition: 0,
                    worker: 0,
                    slot: 0,
                    attempt: 0,
                    ok: true,
                    figures: TaskFigures {
                        seconds: 0.1,
                        records_in: 5,
                        shuffle_read_from: vec![(0, 9)],
                        ..TaskFigures::default()
                    },
                    failure: None,
                },
            ),
        ];
        let text = render(&RunView::of(&events));
        assert!(
            text.contains("weir_job_running{job=\"w\\\"c\"} 1"),
            "{text}"
        );
        assert!(text.contains("weir_tasks{state=\"succeeded\"} 1"));
        assert!(text.contains("weir_stage_records_in_total{stage=\"0\"} 5"));
        assert!(text.contains("weir_worker_shuffle_read_bytes_total{worker=\"0\",from=\"0\"} 9"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
