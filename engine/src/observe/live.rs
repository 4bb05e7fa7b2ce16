//! The live state of a running job, shared by the event log's writer (which feeds it) and
//! the web UI (which reads it): every event's JSON line, for the UI's event stream, and the
//! [`RunView`] folded from them, for the JSON API and `/metrics`. Readers wait for news on
//! a watch channel that carries the number of lines so far.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::event::Stamped;
use super::view::RunView;

struct State {
    lines: Vec<Arc<str>>,
    view: RunView,
}

/// The events of a run so far, and their fold.
pub struct LiveRun {
    state: Mutex<State>,
    /// Lines so far, and whether the log is closed.
    news: watch::Sender<(usize, bool)>,
}

impl LiveRun {
    /// An empty run.
    pub fn new() -> Arc<LiveRun> {
        Arc::new(LiveRun {
            state: Mutex::new(State {
                lines: Vec::new(),
                view: RunView::default(),
            }),
            news: watch::channel((0, false)).0,
        })
    }

    /// A finished run, from its events (the history server).
    pub fn replay(events: &[Stamped]) -> Arc<LiveRun> {
        let run = LiveRun::new();
        for e in events {
            let line = serde_json::to_vec(e).unwrap_or_default();
            run.push(e, &line);
        }
        run.close();
        run
    }

    /// Adds one event and its JSON line.
    pub fn push(&self, event: &Stamped, line: &[u8]) {
        let count = {
            let mut s = self.state.lock();
            s.view.apply(event);
            s.lines.push(Arc::from(String::from_utf8_lossy(line)));
            s.lines.len()
        };
        self.news.send_replace((count, false));
    }

    /// No more events will come.
    pub fn close(&self) {
        let count = self.state.lock().lines.len();
        self.news.send_replace((count, true));
    }

    /// The lines from index `from` on.
    pub fn lines_from(&self, from: usize) -> Vec<Arc<str>> {
        let s = self.state.lock();
        s.lines.get(from..).map(<[_]>::to_vec).unwrap_or_default()
    }

    /// A copy of the folded view.
    pub fn view(&self) -> RunView {
        self.state.lock().view.clone()
    }

    /// Reads the folded view in place.
    pub fn with_view<R>(&self, f: impl FnOnce(&RunView) -> R) -> R {
        f(&self.state.lock().view)
    }

    /// Waits for news: `(lines so far, closed)`.
    pub fn subscribe(&self) -> watch::Receiver<(usize, bool)> {
        self.news.subscribe()
    }
}
