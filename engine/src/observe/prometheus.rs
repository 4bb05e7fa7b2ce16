//! The Prometheus text exposition of a run (`/metrics`): the job's state, task attempts by
//! state, each stage's progress and bytes, each worker's tasks, busy seconds, memory and
//! shuffle bytes, and the latest Pregel superstep and parameter-server clocks.

use std::fmt::Write;

use super::view::RunView;

/// `view` in the Prometheus text format (version 0.0.4).
pub fn render(view: &RunView) -> String {
    let mut out = String::with_capacity(4096);
    let job = &view.job;
    let job_label = format!("job=\"{}\"", escape(&job.name));
    let running = u8::from(job.state == "running");
    let ok = u8::from(job.state == "finished");
    gauge(&mut out, "weir_job_running", "1 while the job runs.");
    let _ = writeln!(out, "weir_job_running{{{job_label}}} {running}");
    gauge(
        &mut out,
        "weir_job_succeeded",
        "1 once the job finished successfully.",
    );
    let _ = writeln!(out, "weir_job_succeeded{{{job_label}}} {ok}");
    gauge(
        &mut out,
        "weir_job_seconds",
        "Seconds since the job started (to its end).",
    );
    let _ = writeln!(out, "weir_job_seconds{{{job_label}}} {}", job.seconds);
    gauge(&mut out, "weir_events", "Events recorded so far.");
    let _ = writeln!(out, "weir_events {}", view.events);

    let (done, failed, running_tasks) = view.task_counts();
    gauge(&mut out, "weir_tasks", "Task attempts by state.");
    for (state, n) in [
        ("succeeded", done),
        ("failed", failed),
        ("running", running_tasks),
    ] {
        let _ = writeln!(out, "weir_tasks{{state=\"{state}\"}} {n}");
    }

    gauge(
        &mut out,
        "weir_stage_tasks",
        "A stage's task attempts by state.",
    );
    for s in &view.stages {
        for (state, n) in [
            ("partitions", s.tasks),
            ("succeeded", s.succeeded),
            ("failed", s.failed),
            ("running", s.running),
        ] {
            let _ = writeln!(
                out,
                "weir_stage_tasks{{stage=\"{}\",state=\"{state}\"}} {n}",
                s.id
            );
        }
    }
    counter(
        &mut out,
        "weir_stage_records_in_total",
        "Records a stage's successful tasks read.",
    );
    for s in &view.stages {
        let _ = writeln!(
            out,
            "weir_stage_records_in_total{{stage=\"{}\"}} {}",
            s.id, s.records_in
        );
    }
    counter(
        &mut out,
        "weir_stage_records_out_total",
        "Records a stage's successful tasks wrote.",
    );
    for s in &view.stages {
        let _ = writeln!(
            out,
            "weir_stage_records_out_total{{stage=\"{}\"}} {}",
            s.id, s.records_out
        );
    }
    counter(
        &mut out,
        "weir_stage_shuffle_read_bytes_total",
        "Shuffle bytes a stage read.",
    );
    for s in &view.stages {
        let _ = writeln!(
            out,
            "weir_stage_shuffle_read_bytes_total{{stage=\"{}\"}} {}",
            s.id, s.shuffle_read_bytes
        );
    }
    counter(
        &mut out,
        "weir_stage_shuffle_write_bytes_total",
        "Shuffle bytes a stage wrote.",
    );
    for s in &view.stages {
        let _ = writeln!(
            out,
            "weir_stage_shuffle_write_bytes_total{{stage=\"{}\"}} {}",
            s.id, s.shuffle_write_bytes
        );
    }

    workers(&mut out, view);
    models(&mut out, view);
    out
}

fn workers(out: &mut String, view: &RunView) {
    gauge(out, "weir_worker_up", "1 while the worker is alive.");
    for w in view.workers.values() {
        let _ = writeln!(
            out,
            "weir_worker_up{{worker=\"{}\"}} {}",
            w.id,
            u8::from(w.state == "alive")
        );
    }
    counter(
        out,
        "weir_worker_tasks_total",
        "Task attempts a worker finished successfully.",
    );
    for w in view.workers.values() {
        let _ = writeln!(
            out,
            "weir_worker_tasks_total{{worker=\"{}\"}} {}",
            w.id, w.tasks
        );
    }
    counter(
        out,
        "weir_worker_busy_seconds_total",
        "Seconds of task attempts on a worker.",
    );
    for w in view.workers.values() {
        let _ = writeln!(
            out,
            "weir_worker_busy_seconds_total{{worker=\"{}\"}} {}",
            w.id, w.busy_seconds
        );
    }
    gauge(
        out,
        "weir_worker_peak_rss_bytes",
        "A worker process's peak resident set.",
    );
    for w in view.workers.values() {
        let _ = writeln!(
            out,
            "weir_worker_peak_rss_bytes{{worker=\"{}\"}} {}",
            w.id, w.peak_rss_bytes
        );
    }
    counter(
        out,
        "weir_worker_shuffle_read_bytes_total",
        "Shuffle bytes a worker read, by source worker.",
    );
    for w in view.workers.values() {
        for (from, bytes) in &w.read_from {
            let _ = writeln!(
                out,
                "weir_worker_shuffle_read_bytes_total{{worker=\"{}\",from=\"{from}\"}} {bytes}",
                w.id
            );
        }
    }
}

fn models(out: &mut String, view: &RunView) {
    if let Some(s) = view.supersteps.last() {
        gauge(out, "weir_pregel_superstep", "The latest Pregel superstep.");
        let _ = writeln!(out, "weir_pregel_superstep {}", s.step);
        gauge(
            out,
            "weir_pregel_active_vertices",
            "Active vertices of the latest superstep.",
        );
        let _ = writeln!(out, "weir_pregel_active_vertices {}", s.active_vertices);
        gauge(
            out,
            "weir_pregel_messages",
            "Messages sent in the latest superstep.",
        );
        let _ = writeln!(out, "weir_pregel_messages {}", s.messages);
    }
    if !view.clocks.is_empty() {
        gauge(
            out,
            "weir_ps_clock",
            "A parameter-server trainer's latest clock.",
        );
        for (trainer, points) in &view.clocks {
            if let Some(p) = points.last() {
                let _ = writeln!(out, "weir_ps_clock{{trainer=\"{trainer}\"}} {}", p.clock);
            }
        }
        gauge(
            out,
            "weir_ps_staleness",
            "The staleness a trainer's latest pulls ran at.",
        );
        for (trainer, points) in &view.clocks {
            if let Some(p) = points.last() {
                let _ = writeln!(
                    out,
                    "weir_ps_staleness{{trainer=\"{trainer}\"}} {}",
                    p.staleness
                );
            }
        }
        gauge(
            out,
            "weir_ps_loss",
            "A trainer's latest mean minibatch loss.",
        );
        for (trainer, points) in &view.clocks {
            if let Some(p) = points.last() {
                let _ = writeln!(out, "weir_ps_loss{{trainer=\"{trainer}\"}} {}", p.loss);
            }
        }
    }
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

fn counter(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
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
