//! Progress of a running session step, the driver's side: the events a worker's
//! partitions report as they go (`Outbox::record`, a `SessionReply::Progress` ahead of the
//! step's reply) go into the run's event log, stamped by the driver. Partitions may report
//! their own progress only (parameter-server clocks); a report that does not parse, or that
//! holds any other kind of event, evicts the worker that sent it.

use super::*;

impl Scheduler {
    /// Records the events a worker's partitions reported during a step of `session`; a
    /// report that does not parse, or holds a kind a partition may not report, evicts the
    /// worker.
    pub(super) fn session_progress(
        &mut self,
        worker: WorkerId,
        session: SessionId,
        events: &[u8],
    ) -> Result<()> {
        let parsed: std::result::Result<Vec<Event>, _> = serde_json::from_slice(events);
        let why = match parsed {
            Ok(events) => match events.iter().find(|e| !matches!(e, Event::Clock { .. })) {
                None => {
                    for mut e in events {
                        if let Event::Clock { worker: sender, .. } = &mut e {
                            *sender = Some(worker);
                        }
                        self.record(e);
                    }
                    return Ok(());
                }
                Some(other) => format!("reported a {} event for session {session}", kind_of(other)),
            },
            Err(e) => format!("sent a malformed progress report for session {session}: {e}"),
        };
        self.evict_worker(worker, why)
    }
}

/// The kind of an event as the log names it.
fn kind_of(event: &Event) -> String {
    serde_json::to_value(event)
        .ok()
        .and_then(|v| v.get("event").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}
