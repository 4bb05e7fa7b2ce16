//! `weir history`: a finished (or failed, or cut short) run from its event log.
//!
//! * `weir history LOG` prints a summary of the run;
//! * `weir history LOG --html report.html` writes one self-contained HTML file with the web
//!   UI's views of the run (it opens offline);
//! * `weir history serve DIR` lists the runs of an event log directory and serves each
//!   one's views and the JSON API, as Spark's history server does (port 18080).
//!
//! A log whose tail does not parse (a driver killed mid-write) renders up to the bad line,
//! and a warning names the file and line; a log that is not an event log at all is an
//! error naming the file and line.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use weir_engine::auth::Secret;
use weir_engine::observe::{read_log, RunView};
use weir_engine::ui::server::{Source, UiServer};
use weir_engine::ui::{history_html, ui_token};

/// `weir history LOG [--html FILE]` or `weir history serve DIR`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: Option<HistoryCommand>,
    /// The event log of a run (`--event-log` or a file of WEIR_EVENT_LOG_DIR).
    log: Option<PathBuf>,
    /// Write the run's views as one self-contained HTML file.
    #[arg(long)]
    html: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// Serves the runs of an event log directory: a list, each run's views, the JSON API.
    Serve {
        /// The directory (WEIR_EVENT_LOG_DIR of the runs).
        dir: PathBuf,
        /// Address to serve on; other than loopback, a token is asked for (printed).
        #[arg(long, default_value = "127.0.0.1:18080")]
        listen: SocketAddr,
    },
}

/// Runs `weir history …`.
pub fn history_command(args: HistoryArgs) -> anyhow::Result<()> {
    match (args.command, args.log) {
        (Some(HistoryCommand::Serve { dir, listen }), _) => serve(&dir, listen),
        (None, Some(log)) => report(&log, args.html.as_deref()),
        (None, None) => bail!("usage: weir history LOG [--html FILE] | weir history serve DIR"),
    }
}

fn report(log: &Path, html: Option<&Path>) -> anyhow::Result<()> {
    let read = read_log(log)?;
    if let Some(stopped) = &read.stopped {
        eprintln!(
            "warning: {stopped}; showing the {} events before it",
            read.events.len()
        );
    }
    match html {
        Some(out) => {
            let page = history_html(&read.events, read.stopped.as_deref());
            let tmp = out.with_extension("html.tmp");
            std::fs::write(&tmp, page).with_context(|| tmp.display().to_string())?;
            std::fs::rename(&tmp, out).with_context(|| out.display().to_string())?;
            eprintln!("wrote {}", out.display());
        }
        None => print_summary(&RunView::of(&read.events)),
    }
    Ok(())
}

fn print_summary(v: &RunView) {
    let (done, failed, running) = v.task_counts();
    println!("run        {}", v.id());
    println!("job        {} {}", v.job.name, v.job.args.join(" "));
    let state = match &v.job.error {
        Some(e) => format!("{}: {e}", v.job.state),
        None if v.job.state == "running" => "incomplete (the log ends before the job)".into(),
        None => v.job.state.clone(),
    };
    println!("state      {state}");
    println!("seconds    {:.3}", v.job.seconds);
    println!("tasks      {done} succeeded, {failed} failed, {running} unfinished");
    for w in v.workers.values() {
        let left = w
            .reason
            .as_deref()
            .map_or(String::new(), |r| format!(": {r}"));
        println!(
            "worker {:<3} {} pid {}, {} tasks, {:.2}s busy, {}{left}",
            w.id, w.host, w.pid, w.tasks, w.busy_seconds, w.state
        );
    }
    for s in &v.stages {
        println!(
            "stage {:<4} {} tasks ({} failed), {} records in, {} out: {}",
            s.id, s.succeeded, s.failed, s.records_in, s.records_out, s.name
        );
    }
    for m in &v.marks {
        println!("at {:>8.3}s {}", m.t, m.what);
    }
}

fn serve(dir: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!("{}: not a directory of event logs", dir.display());
    }
    let token = (!listen.ip().is_loopback()).then(|| ui_token(&Secret::generate()));
    let server = UiServer::start(&[listen], Source::History(dir.to_path_buf()), token.clone())?;
    let mut shown = server.address();
    if shown.ip().is_unspecified() {
        shown.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    match token {
        Some(t) => eprintln!("weir history: http://{shown}/?token={t}"),
        None => eprintln!("weir history: http://{shown}/"),
    }
    server.wait();
    Ok(())
}
