//! The job registry: every job by name, with its description and argument parser.
//!
//! A job is a `clap` argument struct that implements [`Job`]. Every process resolves a job
//! the same way from its name and arguments (the driver from the command line, a worker from
//! the driver's `JobStart`), so the registry is also the workers' [`JobResolver`]. A user's
//! own binary builds a registry with the built-in jobs and its own, and hands it to
//! `weir::main_with`.

use weir_engine::worker::{JobFn, JobResolver};
use weir_engine::{JobContext, Result};

/// A job: its arguments are the struct, its body is [`run`](Job::run).
pub trait Job: clap::Parser + Send + 'static {
    /// The name used on the command line.
    const NAME: &'static str;
    /// One line for `weir jobs`.
    const ABOUT: &'static str;
    /// Builds the plan and runs its actions. Runs in every process; print and write results
    /// only where `ctx.is_driver()`.
    fn run(self, ctx: &JobContext) -> Result<()>;
}

type Parse = Box<dyn Fn(&[String]) -> std::result::Result<JobFn, clap::Error> + Send + Sync>;
type Command = Box<dyn Fn() -> clap::Command + Send + Sync>;

struct Entry {
    name: &'static str,
    about: &'static str,
    parse: Parse,
    command: Command,
}

/// Jobs by name.
#[derive(Default)]
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The built-in jobs.
    pub fn builtin() -> Self {
        let mut r = Registry::new();
        crate::register_builtin(&mut r);
        r
    }

    /// Adds job `J` (replacing a job of the same name).
    pub fn register<J: Job>(&mut self) -> &mut Self {
        self.entries.retain(|e| e.name != J::NAME);
        self.entries.push(Entry {
            name: J::NAME,
            about: J::ABOUT,
            parse: Box::new(|args: &[String]| {
                let matches = J::command()
                    .no_binary_name(true)
                    .name(J::NAME)
                    .try_get_matches_from(args)?;
                let job = J::from_arg_matches(&matches)?;
                Ok(Box::new(move |ctx: &JobContext| job.run(ctx)) as JobFn)
            }),
            command: Box::new(|| J::command().name(J::NAME).about(J::ABOUT)),
        });
        self.entries.sort_by_key(|e| e.name);
        self
    }

    /// `(name, description)` of every job, by name.
    pub fn list(&self) -> Vec<(&'static str, &'static str)> {
        self.entries.iter().map(|e| (e.name, e.about)).collect()
    }

    /// Whether a job of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.name == name)
    }

    /// The job's argument parser, for help text.
    pub fn command(&self, name: &str) -> Option<clap::Command> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| (e.command)())
    }

    /// Parses `args` for job `name`.
    pub fn parse(&self, name: &str, args: &[String]) -> std::result::Result<JobFn, String> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| format!("unknown job '{name}' (see 'weir jobs')"))?;
        (entry.parse)(args).map_err(|e| clap_error_line(&e))
    }
}

/// A clap error as one line: its message without the usage and tips, e.g.
/// `the following required arguments were not provided: --input <INPUTS>`.
pub fn clap_error_line(error: &clap::Error) -> String {
    let text = error.to_string();
    let mut parts: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let ends = line.is_empty()
            || line.starts_with("Usage:")
            || line.starts_with("For more information")
            || line.starts_with("tip:");
        if ends {
            if parts.is_empty() {
                continue;
            }
            break;
        }
        parts.push(line);
    }
    let joined = parts.join(" ");
    joined
        .strip_prefix("error: ")
        .unwrap_or(&joined)
        .to_string()
}

impl JobResolver for Registry {
    fn resolve(&self, job: &str, args: &[String]) -> std::result::Result<JobFn, String> {
        self.parse(job, args)
    }
}
