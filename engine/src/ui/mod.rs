//! The web UI: the live view of a running job served by the driver ([`server`]), the
//! history server over a directory of event logs, and the self-contained HTML report of a
//! finished run ([`history_html`]).
//!
//! The page, its scripts and its style are files of this directory (`assets/`), embedded in
//! the binary: the UI needs no network access and no build step. The page folds the run's
//! events itself, from the server's event stream while the job runs or from the events
//! embedded in a history report, so a live run and its report show the same views.
//!
//! The UI is read-only. It binds to loopback unless told otherwise; on any other address
//! every request must carry the token derived from the cluster's secret ([`ui_token`]), as
//! `?token=`, a bearer header, or the cookie the page sets on first load.

pub mod server;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::Secret;
use crate::observe::Stamped;

/// The page.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// Its scripts, in the order the page loads them: the fold of events into the run's
/// state, the SVG helpers and charts, the task timeline, the views and the start.
pub const SCRIPTS: [(&str, &str); 4] = [
    ("fold.js", include_str!("assets/fold.js")),
    ("charts.js", include_str!("assets/charts.js")),
    ("timeline.js", include_str!("assets/timeline.js")),
    ("app.js", include_str!("assets/app.js")),
];
/// Its style.
pub const STYLE_CSS: &str = include_str!("assets/style.css");

const STYLE_LINK: &str = r#"<link rel="stylesheet" href="style.css">"#;

/// The line of the page that loads script `name`.
fn script_tag(name: &str) -> String {
    format!(r#"<script src="{name}"></script>"#)
}

/// One HTML file showing the run of `events`, with the script, the style and the events
/// inlined: it opens offline, from a file.
pub fn history_html(events: &[Stamped], note: Option<&str>) -> String {
    let mut json = serde_json::to_string(events).unwrap_or_else(|_| "[]".into());
    // The events sit inside a <script> element: no "</" may end it early.
    json = json.replace("</", "<\\/");
    let style = format!("<style>\n{STYLE_CSS}\n</style>");
    let mut page = INDEX_HTML.replacen(STYLE_LINK, &style, 1);
    for (name, code) in SCRIPTS {
        let code = code.replace("</script", "<\\/script");
        page = page.replacen(
            &script_tag(name),
            &format!("<script>\n{code}\n</script>"),
            1,
        );
    }
    let mut tail = format!(r#"<script id="weir-events" type="application/json">{json}</script>"#);
    if let Some(note) = note {
        let note = note
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        tail.push_str(&format!(r#"<p id="log-note" class="log-note">{note}</p>"#));
    }
    tail.push_str("\n</body>");
    page = page.replacen("</body>", &tail, 1);
    page
}

/// The token a non-loopback UI asks for: an HMAC of a fixed label under the cluster's
/// secret, so whoever holds the secret can compute it and nobody else can.
pub fn ui_token(secret: &Secret) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"weir web ui token v1");
    mac.finalize().into_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `given` is `token`, compared in constant time.
pub fn token_matches(token: &str, given: &str) -> bool {
    let (a, b) = (token.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::Event;

    #[test]
    fn the_assets_have_the_lines_the_report_inlines() {
        assert!(INDEX_HTML.contains(STYLE_LINK));
        for (name, _) in SCRIPTS {
            assert!(INDEX_HTML.contains(&script_tag(name)), "{name}");
        }
        assert!(INDEX_HTML.contains("</body>"));
    }

    #[test]
    fn a_report_is_self_contained() {
        let events = vec![Stamped {
            t: 0.0,
            event: Event::JobEnd {
                ok: false,
                error: Some("</script><script>alert(1)</script>".into()),
            },
        }];
        let html = history_html(&events, Some("stopped at <line 3>"));
        assert!(!html.contains(STYLE_LINK) && !html.contains("<script src="));
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        assert!(!html.contains("</script><script>alert"));
        assert!(html.contains("stopped at &lt;line 3&gt;"));
        let start = html.find(r#"id="weir-events""#).unwrap();
        let body = &html[start..];
        let json = &body[body.find('>').unwrap() + 1..body.find("</script>").unwrap()];
        let back: Vec<Stamped> = serde_json::from_str(&json.replace("<\\/", "</")).unwrap();
        assert_eq!(back, events);
    }

    #[test]
    fn the_token_depends_on_the_secret() {
        let a = ui_token(&Secret::new(b"one".to_vec()));
        assert_eq!(a.len(), 32);
        assert_eq!(a, ui_token(&Secret::new(b"one".to_vec())));
        assert_ne!(a, ui_token(&Secret::new(b"two".to_vec())));
        assert!(token_matches(&a, &a.clone()));
        assert!(!token_matches(&a, &a[..31]));
    }
}
