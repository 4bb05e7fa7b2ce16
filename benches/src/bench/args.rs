//! Command-line splitting shared by the `weir bench` subcommands: the job name, the job's
//! own arguments and the bench options may come in any order, the way `weir run` takes
//! them.

use anyhow::{anyhow, bail};

/// A bench command line, split.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SplitArgs {
    /// `--help` or `-h` was given.
    pub help: bool,
    pub job: Option<String>,
    pub job_args: Vec<String>,
    /// Bench options that take a value, in the order given.
    pub values: Vec<(String, String)>,
    /// Bench flags given.
    pub flags: Vec<String>,
}

impl SplitArgs {
    /// The last value given for `option`.
    pub fn value(&self, option: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == option)
            .map(|(_, v)| v.as_str())
    }

    /// The job named, or an error showing `usage`.
    pub fn job_or(&self, usage: &str) -> anyhow::Result<String> {
        self.job
            .clone()
            .ok_or_else(|| anyhow!("which job? {usage}"))
    }

    /// Whether `flag` was given.
    pub fn flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Splits `args`: `value_options` take a value (`--name V` or `--name=V`), `flags` do not;
/// the first other word not starting with `-` is the job, everything else goes to it.
pub fn split(args: &[String], value_options: &[&str], flags: &[&str]) -> anyhow::Result<SplitArgs> {
    let mut out = SplitArgs::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (a.as_str(), None),
        };
        if a == "--help" || a == "-h" {
            out.help = true;
        } else if value_options.contains(&name) {
            let value = match inline {
                Some(v) => v.to_string(),
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| anyhow!("{name} needs a value"))?
                }
            };
            out.values.push((name.to_string(), value));
        } else if flags.contains(&a.as_str()) {
            out.flags.push(a.clone());
        } else if out.job.is_none() && !a.starts_with('-') {
            out.job = Some(a.clone());
        } else {
            out.job_args.push(a.clone());
        }
        i += 1;
    }
    Ok(out)
}

/// Parses a positive integer given to `option`.
pub fn positive(option: &str, text: &str) -> anyhow::Result<usize> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{option}: '{text}' is not a positive integer"),
    }
}

/// Parses a comma-separated list of positive integers given to `option`, sorted and
/// without repeats.
pub fn positive_list(option: &str, text: &str) -> anyhow::Result<Vec<usize>> {
    let mut list = Vec::new();
    for item in text.split(',') {
        list.push(positive(option, item)?);
    }
    list.sort_unstable();
    list.dedup();
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn splits_in_any_order() {
        let s = split(
            &words("--repeat=2 wordcount --input a --fast --workers 1,2 -x"),
            &["--repeat", "--workers"],
            &["--fast"],
        )
        .unwrap();
        assert_eq!(s.job.as_deref(), Some("wordcount"));
        assert_eq!(s.job_args, words("--input a -x"));
        assert_eq!(s.value("--repeat"), Some("2"));
        assert_eq!(s.value("--workers"), Some("1,2"));
        assert!(s.flag("--fast") && !s.help);
        assert!(split(&words("job --workers"), &["--workers"], &[]).is_err());
    }

    #[test]
    fn lists_are_positive_sorted_and_unique() {
        assert_eq!(positive_list("--w", "4,1,2,2").unwrap(), vec![1, 2, 4]);
        assert!(positive_list("--w", "1,0").is_err());
        assert!(positive_list("--w", "1,,2").is_err());
        assert!(positive("--r", "-1").is_err());
    }
}
