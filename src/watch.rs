//! What watches a `weir run`: its event log (`--event-log FILE`, or a file per run in
//! `WEIR_EVENT_LOG_DIR`) and its live web UI (`--ui ADDR`, on by default on loopback from
//! port 4040, `--no-ui` off). Both are fed by one writer thread: the UI's view is the
//! event log, folded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use weir_engine::auth::Secret;
use weir_engine::observe::{log_file_in, EventLog, LiveRun, Recorder, EVENT_LOG_DIR_ENV};
use weir_engine::ui::server::{Source, UiServer};
use weir_engine::ui::ui_token;

use crate::run::RunOptions;

/// The first port the UI tries, as Spark's does.
pub const UI_FIRST_PORT: u16 = 4040;
/// Ports tried after it before any free one.
const UI_PORTS_TRIED: u16 = 64;

/// A run's event log and web UI.
pub struct Watch {
    log: Option<EventLog>,
    ui: Option<UiServer>,
}

impl Watch {
    /// Starts what `opts` ask for; the token of a UI on a non-loopback address derives from
    /// `secret`.
    pub fn start(job: &str, opts: &RunOptions, secret: &Secret) -> anyhow::Result<Watch> {
        let path = log_path(job, opts)?;
        let live = (!opts.no_ui).then(LiveRun::new);
        let log = if path.is_some() || live.is_some() {
            Some(EventLog::start(path.as_deref(), live.clone())?)
        } else {
            None
        };
        let ui = match live {
            Some(live) => Some(start_ui(opts, live, secret, !opts.quiet)?),
            None => None,
        };
        Ok(Watch { log, ui })
    }

    /// The recorder the scheduler writes events to.
    pub fn recorder(&self) -> Option<Recorder> {
        self.log.as_ref().map(EventLog::recorder)
    }

    /// Writes out the log and, after `--ui-linger` seconds, stops the UI.
    pub fn finish(self, opts: &RunOptions) -> anyhow::Result<()> {
        if let Some(log) = self.log {
            log.finish()?;
        }
        if self.ui.is_some() && opts.ui_linger > 0 {
            std::thread::sleep(std::time::Duration::from_secs(opts.ui_linger));
        }
        drop(self.ui);
        Ok(())
    }
}

/// Where the run's event log goes, if anywhere.
fn log_path(job: &str, opts: &RunOptions) -> anyhow::Result<Option<PathBuf>> {
    if let Some(p) = &opts.event_log {
        return Ok(Some(p.clone()));
    }
    match std::env::var_os(EVENT_LOG_DIR_ENV) {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("{EVENT_LOG_DIR_ENV}={}", dir.display()))?;
            Ok(Some(log_file_in(&dir, job)))
        }
        _ => Ok(None),
    }
}

fn start_ui(
    opts: &RunOptions,
    live: std::sync::Arc<LiveRun>,
    secret: &Secret,
    announce: bool,
) -> anyhow::Result<UiServer> {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let candidates: Vec<SocketAddr> = match opts.ui {
        Some(addr) => vec![addr],
        None => (0..UI_PORTS_TRIED)
            .map(|i| SocketAddr::new(loopback, UI_FIRST_PORT + i))
            .chain([SocketAddr::new(loopback, 0)])
            .collect(),
    };
    let public = opts.ui.is_some_and(|a| !a.ip().is_loopback());
    let token = public.then(|| ui_token(secret));
    let server = UiServer::start(&candidates, Source::Live(live), token.clone())?;
    if announce {
        let address = server.address();
        let shown = if address.ip().is_unspecified() {
            SocketAddr::new(loopback, address.port())
        } else {
            address
        };
        match token {
            Some(t) => eprintln!("web UI: http://{shown}/?token={t}"),
            None => eprintln!("web UI: http://{shown}/"),
        }
    }
    Ok(server)
}
