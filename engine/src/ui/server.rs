//! The UI's HTTP server (axum on a small runtime of its own, so it runs the same beside an
//! in-process job and a cluster driver). Two kinds of source:
//!
//! * a live run ([`Source::Live`]): the page, its event stream (server-sent events, every
//!   event of the run from the first, then each as it is written) and the JSON API over the
//!   run's folded view;
//! * a directory of event logs ([`Source::History`], `weir history serve`): a list of the
//!   runs, each run's report, and the same JSON API for each.
//!
//! Routes (`APP` is a run id, as `/api/v1/applications` lists them; modelled on Spark's
//! REST API):
//!
//! ```text
//! /                                   the page (live) or the list of runs (history)
//! /fold.js, /charts.js, /timeline.js, /app.js, /style.css   the page's scripts and style
//! /runs/APP/                          a run's report (history)
//! /api/v1/stream                      the live run's events, as server-sent events
//! /api/v1/applications                the runs: id, name, state, start, seconds
//! /api/v1/applications/APP            the job
//! /api/v1/applications/APP/stages     stages; …/stages/N one stage
//! /api/v1/applications/APP/tasks      task attempts
//! /api/v1/applications/APP/workers    workers (also …/executors)
//! /api/v1/applications/APP/supersteps Pregel supersteps
//! /api/v1/applications/APP/clocks     parameter-server clocks by trainer
//! /api/v1/applications/APP/marks      lost workers, recomputations, rollbacks
//! /metrics                            the live run in the Prometheus text format
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::Stream;
use serde::Serialize;

use super::{history_html, token_matches, INDEX_HTML, SCRIPTS, STYLE_CSS};
use crate::error::{Error, Result};
use crate::observe::{read_log, LiveRun, RunView};

/// What the server shows.
#[derive(Clone)]
pub enum Source {
    Live(Arc<LiveRun>),
    History(PathBuf),
}

#[derive(Clone)]
struct AppState {
    source: Source,
    token: Option<Arc<str>>,
}

/// A running UI server; it stops when dropped.
pub struct UiServer {
    address: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UiServer {
    /// Serves `source` on the first free port of `candidates`; requests must carry `token`
    /// when one is given.
    pub fn start(candidates: &[SocketAddr], source: Source, token: Option<String>) -> Result<Self> {
        let listener = bind_first(candidates)?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::io("reading the UI's address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("configuring the UI's socket", e))?;
        let state = AppState {
            source,
            token: token.map(Arc::from),
        };
        let app = router(state);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the UI's runtime", e))?;
        let thread = std::thread::Builder::new()
            .name("weir-ui".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                        let _ = rx.await;
                    });
                    if let Err(e) = serve.await {
                        tracing::warn!("web UI stopped: {e}");
                    }
                });
                // Open event streams end with the runtime.
                runtime.shutdown_background();
            })
            .map_err(|e| Error::io("starting the UI thread", e))?;
        Ok(UiServer {
            address,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until the process is stopped.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds the first address of `candidates` that is free.
fn bind_first(candidates: &[SocketAddr]) -> Result<std::net::TcpListener> {
    let mut last = None;
    for a in candidates {
        match std::net::TcpListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((a, e)),
        }
    }
    Err(match last {
        Some((a, e)) => Error::io(format!("binding the web UI to {a}"), e),
        None => Error::job("no address to bind the web UI to"),
    })
}

fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/applications", get(applications))
        .route("/applications/{app}", get(job))
        .route("/applications/{app}/stages", get(stages))
        .route("/applications/{app}/stages/{stage}", get(stage))
        .route("/applications/{app}/tasks", get(tasks))
        .route("/applications/{app}/workers", get(workers))
        .route("/applications/{app}/executors", get(workers))
        .route("/applications/{app}/supersteps", get(supersteps))
        .route("/applications/{app}/clocks", get(clocks))
        .route("/applications/{app}/marks", get(marks))
        .route("/stream", get(stream));
    let mut pages = Router::new().route("/", get(index));
    for (name, code) in SCRIPTS {
        let script = move || async move { asset("text/javascript", code) };
        pages = pages.route(&format!("/{name}"), get(script));
    }
    pages
        .route("/style.css", get(|| async { asset("text/css", STYLE_CSS) }))
        .route("/runs/{app}/", get(report))
        .route("/metrics", get(metrics))
        .nest("/api/v1", api)
        .layer(middleware::from_fn_with_state(state.clone(), check_token))
        .with_state(state)
}

/// Refuses a request without the token, when the server has one; a page load with a right
/// `?token=` sets a cookie so the page's own requests carry it.
async fn check_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = state.token.clone() else {
        return next.run(request).await;
    };
    let from_query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token=").map(str::to_string))
    });
    let headers = request.headers();
    let from_bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let from_cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| {
            c.split(';')
                .find_map(|kv| kv.trim().strip_prefix("weir_token=").map(str::to_string))
        });
    let ok = [&from_query, &from_bearer, &from_cookie]
        .into_iter()
        .flatten()
        .any(|given| token_matches(&token, given));
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            "this Weir UI needs its token: open the address printed by `weir run`\n",
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    if from_query.is_some() {
        let cookie = format!("weir_token={token}; HttpOnly; SameSite=Strict; Path=/");
        if let Ok(v) = cookie.parse() {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, what).into_response()
}

async fn index(State(state): State<AppState>) -> Response {
    match &state.source {
        Source::Live(_) => asset("text/html; charset=utf-8", INDEX_HTML),
        Source::History(dir) => html(run_list_page(dir)),
    }
}

/// One run of a history directory: its file, the events read and where reading stopped.
struct LoggedRun {
    view: RunView,
    events: Vec<crate::observe::Stamped>,
    stopped: Option<String>,
}

/// The runs of an event log directory, newest first; unreadable logs are skipped (and named
/// in the warning log).
fn logged_runs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut runs: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p)))
        .collect();
    runs.sort_by(|a, b| b.0.cmp(&a.0));
    runs
}

fn load_run(dir: &Path, id: &str) -> Option<LoggedRun> {
    let (_, path) = logged_runs(dir).into_iter().find(|(name, _)| name == id)?;
    match read_log(&path) {
        Ok(read) => Some(LoggedRun {
            view: RunView::of(&read.events),
            events: read.events,
            stopped: read.stopped,
        }),
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    }
}

fn run_list_page(dir: &Path) -> String {
    let mut rows = String::new();
    for (id, path) in logged_runs(dir) {
        let row = match read_log(&path) {
            Ok(read) => {
                let v = RunView::of(&read.events);
                format!(
                    r#"<tr class="run"><td><a href="runs/{id}/">{id}</a></td><td>{}</td><td>{}</td><td>{:.2} s</td></tr>"#,
                    escape(&v.job.name),
                    if read.stopped.is_some() {
                        "unreadable tail"
                    } else {
                        escape_static(&v.job.state)
                    },
                    v.job.seconds
                )
            }
            Err(e) => format!(
                r#"<tr class="run bad"><td>{id}</td><td colspan="3">{}</td></tr>"#,
                escape(&e.to_string())
            ),
        };
        rows.push_str(&row);
    }
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Weir history</title><link rel="icon" href="data:,"><link rel="stylesheet" href="style.css"></head><body><h1>Weir history: {}</h1><table id="runs"><tr><th>run</th><th>job</th><th>state</th><th>time</th></tr>{rows}</table></body></html>"#,
        escape(&dir.display().to_string())
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn escape_static(s: &str) -> &str {
    match s {
        "running" => "running",
        "finished" => "finished",
        "failed" => "failed",
        _ => "incomplete",
    }
}

async fn report(State(state): State<AppState>, UrlPath(app): UrlPath<String>) -> Response {
    let Source::History(dir) = &state.source else {
        return not_found("a live UI has no reports".into());
    };
    match load_run(dir, &app) {
        Some(run) => html(history_html(&run.events, run.stopped.as_deref())),
        None => not_found(format!("no readable run {app}")),
    }
}

/// Calls `f` with the view of run `app`.
fn with_run(state: &AppState, app: &str, f: impl FnOnce(&RunView) -> Response) -> Response {
    match &state.source {
        Source::Live(live) => live.with_view(|v| {
            if v.id() == app || app == "current" {
                f(v)
            } else {
                not_found(format!("no run {app}"))
            }
        }),
        Source::History(dir) => match load_run(dir, app) {
            Some(run) => f(&run.view),
            None => not_found(format!("no readable run {app}")),
        },
    }
}

#[derive(Serialize)]
struct Application {
    id: String,
    name: String,
    state: String,
    start_unix_seconds: f64,
    seconds: f64,
}

fn application(id: String, v: &RunView) -> Application {
    Application {
        id,
        name: v.job.name.clone(),
        state: v.job.state.clone(),
        start_unix_seconds: v.job.unix_seconds,
        seconds: v.job.seconds,
    }
}

async fn applications(State(state): State<AppState>) -> Response {
    match &state.source {
        Source::Live(live) => live.with_view(|v| json(&[application(v.id(), v)])),
        Source::History(dir) => {
            let apps: Vec<Application> = logged_runs(dir)
                .into_iter()
                .filter_map(|(id, path)| {
                    let read = read_log(&path).ok()?;
                    Some(application(id, &RunView::of(&read.events)))
                })
                .collect();
            json(&apps)
        }
    }
}

async fn job(State(s): State<AppState>, UrlPath(app): UrlPath<String>) -> Response {
    with_run(&s, &app, |v| json(&v.job))
}

async fn stages(State(s): State<AppState>, UrlPath(app): UrlPath<String>) -> Response {
    with_run(&s, &app, |v| json(&v.stages))
}

async fn stage(
    State(s): State<AppState>,
    UrlPath((app, id)): UrlPath<(String, usize)>,
) -> Response {
    with_run(&s, &app, |v| match v.stages.get(id) {
        Some(stage) => json(stage),
        None => not_found(format!("no stage {id}")),
    })
}

async fn tasks(State(s): State<AppState>, UrlPath(app): UrlPath<String>) -> Response {
    with_run(&s, &app, |v| json(&v.tasks))
}

async fn workers(State(s): State<AppState>, UrlPath(app): UrlPath<String>) -> Response {
    with_run(&s, &app, |v| json(&v.workers.values().collect::<Vec<_>>()))
}

async fn supersteps(State(s): State<AppState>, UrlPath(app): UrlPath<String>) -> Response {
    with_run(&s, &app, |v| json(&v.supersteps))
}

async fn clocks(State(s): State<AppState>, UrlPath(app): UrlPath<String>) -> Response {
    with_run(&s, &app, |v| json(&v.clocks))
}

async fn marks(State(s): State<AppState>, UrlPath(app): UrlPath<String>) -> Response {
    with_run(&s, &app, |v| json(&v.marks))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = match &state.source {
        Source::Live(live) => live.with_view(crate::observe::prometheus::render),
        Source::History(_) => String::new(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct StreamQuery {
    from: Option<usize>,
}

/// The live run's events from the first (or from `?from=`, or after `Last-Event-ID`), then
/// each as it is written; the stream ends after the last.
async fn stream(
    State(state): State<AppState>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Response {
    let Source::Live(live) = state.source else {
        return not_found("a history server has no live stream".into());
    };
    let after_last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .map(|id| id + 1);
    let from = after_last.or(query.from).unwrap_or(0);
    Sse::new(event_stream(live, from))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn event_stream(
    live: Arc<LiveRun>,
    from: usize,
) -> impl Stream<Item = std::result::Result<SseEvent, Infallible>> {
    let news = live.subscribe();
    let state = (live, news, from, std::collections::VecDeque::new(), false);
    futures::stream::unfold(
        state,
        |(live, mut news, mut next, mut queue, mut ended)| async move {
            loop {
                if let Some((index, line)) = queue.pop_front() {
                    let event = SseEvent::default().id(format!("{index}")).data(line);
                    return Some((Ok(event), (live, news, next, queue, ended)));
                }
                if ended {
                    return None;
                }
                let (count, closed) = *news.borrow_and_update();
                if count > next {
                    for (i, line) in live.lines_from(next).into_iter().enumerate() {
                        queue.push_back((next + i, line.to_string()));
                    }
                    next += queue.len();
                    continue;
                }
                if closed {
                    ended = true;
                    continue;
                }
                if news.changed().await.is_err() {
                    ended = true;
                }
            }
        },
    )
}
