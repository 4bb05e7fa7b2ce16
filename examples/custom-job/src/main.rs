//! A user's own binary built on Weir: it registers a custom job (`charclasses`) that uses a
//! custom stateful operator, next to Weir's built-in jobs, and runs everything through
//! Weir's command line. Because every worker process is this same binary, the custom job
//! runs distributed without any extra step:
//!
//! ```sh
//! cargo run -p weir-example-custom-job -- run charclasses --input datasets/samples/text --workers 2
//! ```

use std::collections::BTreeMap;

use weir::prelude::*;
use weir::{Job, Registry};

/// A stateful operator: tallies the character classes of the lines it sees, and emits the
/// partition's totals once, when the partition ends.
#[derive(Default)]
struct CharClasses {
    tally: BTreeMap<&'static str, u64>,
}

fn class_of(c: char) -> &'static str {
    if c.is_alphabetic() {
        "letter"
    } else if c.is_numeric() {
        "digit"
    } else if c.is_whitespace() {
        "space"
    } else {
        "other"
    }
}

impl Operator for CharClasses {
    type In = String;
    type Out = (String, u64);

    fn process(&mut self, line: String, _out: &mut Vec<(String, u64)>) {
        for c in line.chars() {
            *self.tally.entry(class_of(c)).or_default() += 1;
        }
    }

    fn finish(&mut self, out: &mut Vec<(String, u64)>) {
        out.extend(self.tally.iter().map(|(k, v)| (k.to_string(), *v)));
    }
}

/// Counts letters, digits, spaces and other characters of text files.
#[derive(Debug, Clone, clap::Parser)]
struct CharClassesJob {
    /// Input file, directory or glob (repeatable).
    #[arg(long = "input", required = true)]
    inputs: Vec<String>,
}

impl Job for CharClassesJob {
    const NAME: &'static str = "charclasses";
    const ABOUT: &'static str =
        "Counts character classes of text (a custom job with a custom operator)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let totals = ctx
            .text_file(&self.inputs)?
            .apply("char_classes", CharClasses::default)
            .reduce_by_key(|a, b| a + b);
        if let Some(dir) = ctx.options().output.clone() {
            totals.save(dir)?;
        }
        let mut all = totals.collect()?;
        all.sort();
        if ctx.is_driver() {
            for (class, n) in &all {
                println!("{class}\t{n}");
            }
        }
        ctx.set_result("classes", all.len());
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    let mut registry = Registry::builtin();
    registry.register::<CharClassesJob>();
    weir::main_with(registry)
}
