//! Reads an event log back: one JSON event a line, the first a `job_start` of a format
//! version this build reads. A line that does not parse ends the reading with an error
//! naming the file and line; what was read before it is kept, so a log cut short by a
//! dying driver still renders up to where it stops.

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::event::{Event, Stamped, FORMAT_VERSION};
use crate::error::{Error, Result};

/// The events of a log, and where and why reading stopped early, if it did.
#[derive(Debug, Clone)]
pub struct LogRead {
    pub events: Vec<Stamped>,
    /// `"FILE:LINE: why"` when a line could not be read.
    pub stopped: Option<String>,
}

/// Reads the event log at `path`. Fails outright (naming file and line) when the file cannot
/// be opened, is empty, or does not start with a `job_start` of this format version; a bad
/// line later on ends the events there and is reported in [`LogRead::stopped`].
pub fn read_log(path: &Path) -> Result<LogRead> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("reading event log {}", path.display()), e))?;
    let name = path.display();
    let mut events = Vec::new();
    let mut stopped = None;
    let mut line = String::new();
    let mut reader = BufReader::new(file);
    for number in 1.. {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                stopped = Some(format!("{name}:{number}: {e}"));
                break;
            }
        }
        let text = line.trim_end();
        if text.is_empty() {
            continue;
        }
        match parse_line(text, events.is_empty()) {
            Ok(event) => events.push(event),
            Err(why) if events.is_empty() => {
                return Err(Error::Job(format!("{name}:{number}: {why}")))
            }
            Err(why) => {
                stopped = Some(format!("{name}:{number}: {why}"));
                break;
            }
        }
    }
    if events.is_empty() {
        return Err(Error::Job(format!("{name}: the event log is empty")));
    }
    Ok(LogRead { events, stopped })
}

fn parse_line(text: &str, first: bool) -> std::result::Result<Stamped, String> {
    let event: Stamped = serde_json::from_str(text).map_err(|e| {
        let mut why = e.to_string();
        why.truncate(200);
        format!("not a Weir event: {why}")
    })?;
    if !event.t.is_finite() || event.t < 0.0 {
        return Err(format!("bad time {}", event.t));
    }
    match (&event.event, first) {
        (Event::JobStart { version, .. }, true) if *version != FORMAT_VERSION => Err(format!(
            "event log format version {version}; this build reads version {FORMAT_VERSION}"
        )),
        (Event::JobStart { .. }, true) => Ok(event),
        (_, true) => Err("the first event is not job_start".into()),
        (Event::JobStart { .. }, false) => Err("a second job_start".into()),
        (_, false) => Ok(event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn log(lines: &[&str]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        f
    }

    const START: &str = r#"{"t":0.0,"event":"job_start","version":1,"job":"wc","args":[],"workers":1,"threads":2,"unix_seconds":1.0,"pid":7}"#;

    #[test]
    fn reads_a_whole_log() {
        let f = log(&[START, r#"{"t":0.5,"event":"job_end","ok":true}"#]);
        let read = read_log(f.path()).unwrap();
        assert_eq!(read.events.len(), 2);
        assert!(read.stopped.is_none());
    }

    #[test]
    fn a_truncated_line_stops_reading_and_names_the_line() {
        let f = log(&[
            START,
            r#"{"t":0.1,"event":"stage_completed","stage":0}"#,
            r#"{"t":0.2,"event":"task_st"#,
        ]);
        let read = read_log(f.path()).unwrap();
        assert_eq!(read.events.len(), 2);
        let stopped = read.stopped.unwrap();
        assert!(stopped.contains(":3: not a Weir event"), "{stopped}");
    }

    #[test]
    fn garbage_fails_naming_file_and_line() {
        let f = log(&["\u{1}\u{2}garbage"]);
        let e = read_log(f.path()).unwrap_err().to_string();
        assert!(e.contains(&format!("{}:1:", f.path().display())), "{e}");
        let f = log(&[r#"{"t":0.0,"event":"job_end","ok":true}"#]);
        let e = read_log(f.path()).unwrap_err().to_string();
        assert!(e.contains(":1: the first event is not job_start"), "{e}");
        let f = log(&[&START.replace("\"version\":1", "\"version\":99")]);
        let e = read_log(f.path()).unwrap_err().to_string();
        assert!(e.contains("version 99"), "{e}");
        let f = log(&[]);
        assert!(read_log(f.path())
            .unwrap_err()
            .to_string()
            .contains("empty"));
        let e = read_log(Path::new("/nonexistent/log.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/log.jsonl"), "{e}");
    }

    #[test]
    fn a_negative_or_missing_time_is_refused() {
        let f = log(&[START, r#"{"t":-1.0,"event":"stage_completed","stage":0}"#]);
        assert!(read_log(f.path())
            .unwrap()
            .stopped
            .unwrap()
            .contains(":2: bad time"));
        let f = log(&[START, r#"{"event":"stage_completed","stage":0}"#]);
        assert!(read_log(f.path()).unwrap().stopped.is_some());
    }
}
