//! The event log's writer: [`Recorder::record`] stamps an event and hands it to a channel,
//! and one writer thread turns events into JSON lines, appends them to the log file and
//! feeds the live view. Nothing of the writing happens on the scheduler's thread: a record
//! costs a clock read and a channel send.
//!
//! The file is flushed whenever the channel runs empty, so a driver that dies leaves every
//! event written so far on disk, and a history report can be rendered from it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::event::{Event, Stamped};
use super::live::LiveRun;
use crate::error::{Error, Result};

enum Message {
    Event(Stamped),
    Close,
}

/// A handle that records events of one run; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: Sender<Message>,
    started: Instant,
}

impl Recorder {
    /// Records `event` now.
    pub fn record(&self, event: Event) {
        let t = self.started.elapsed().as_secs_f64();
        let _ = self.tx.send(Message::Event(Stamped { t, event }));
    }

    /// Seconds since the run started.
    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// Records `event` if there is a recorder.
pub fn record(recorder: &Option<Recorder>, event: impl FnOnce() -> Event) {
    if let Some(r) = recorder {
        r.record(event());
    }
}

/// The writer thread of a run's events; [`EventLog::finish`] flushes and closes it.
pub struct EventLog {
    recorder: Recorder,
    writer: Option<JoinHandle<std::result::Result<(), String>>>,
}

impl EventLog {
    /// Starts writing the run's events to `path` (when given) and into `live` (when given).
    pub fn start(path: Option<&Path>, live: Option<Arc<LiveRun>>) -> Result<EventLog> {
        let file = match path {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                }
                let f = File::create(p)
                    .map_err(|e| Error::io(format!("creating event log {}", p.display()), e))?;
                Some((BufWriter::with_capacity(1 << 16, f), p.to_path_buf()))
            }
            None => None,
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = std::thread::Builder::new()
            .name("weir-event-log".into())
            .spawn(move || write_events(rx, file, live))
            .map_err(|e| Error::io("starting the event log writer", e))?;
        Ok(EventLog {
            recorder: Recorder {
                tx,
                started: Instant::now(),
            },
            writer: Some(writer),
        })
    }

    /// A recorder of this log.
    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }

    /// Writes out every event recorded so far and closes the log.
    pub fn finish(mut self) -> Result<()> {
        self.close()
    }

    fn close(&mut self) -> Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let _ = self.recorder.tx.send(Message::Close);
        match writer.join() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(Error::Job(message)),
            Err(_) => Err(Error::job("the event log writer panicked")),
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!("{e}");
        }
    }
}

type LogFile = (BufWriter<File>, PathBuf);

fn write_events(
    rx: Receiver<Message>,
    mut file: Option<LogFile>,
    live: Option<Arc<LiveRun>>,
) -> std::result::Result<(), String> {
    let mut failure = None;
    let mut line = Vec::with_capacity(512);
    while let Ok(message) = rx.recv() {
        let Message::Event(stamped) = message else {
            break;
        };
        line.clear();
        if serde_json::to_writer(&mut line, &stamped).is_err() {
            continue;
        }
        if let Some((w, path)) = &mut file {
            let written = w.write_all(&line).and_then(|()| w.write_all(b"\n"));
            if let Err(e) = written {
                failure = Some(format!("writing event log {}: {e}", path.display()));
                file = None;
            }
        }
        if let Some(live) = &live {
            live.push(&stamped, &line);
        }
        if rx.is_empty() {
            if let Some((w, path)) = &mut file {
                if let Err(e) = w.flush() {
                    failure = Some(format!("writing event log {}: {e}", path.display()));
                    file = None;
                }
            }
        }
    }
    if let Some((mut w, path)) = file {
        w.flush()
            .map_err(|e| format!("writing event log {}: {e}", path.display()))?;
    }
    if let Some(live) = &live {
        live.close();
    }
    failure.map_or(Ok(()), Err)
}
