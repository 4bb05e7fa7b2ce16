//! The consistency models of a parameter-server job (`--consistency bsp|ssp:S|asp`), as
//! the servers enforce them with their vector clocks.
//!
//! A trainer's clock counts the minibatches it has pushed. A server knows, for each
//! trainer, how many of its clocks it has applied; the smallest of those is the server's
//! *applied clock*. A pull made at clock `c` is answered once every update older than
//! `c - S` is in, that is once the applied clock reaches `c - S`:
//! - BSP (`S = 0`): every pull sees every update of every earlier clock; the servers also
//!   apply a clock's pushes in trainer order, so a run is deterministic.
//! - SSP (`S > 0`): a trainer runs at most `S` clocks ahead of the slowest.
//! - ASP: no bound; a pull is answered at once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How stale a pull may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consistency {
    /// Bulk synchronous: wait for every trainer at every clock.
    Bsp,
    /// Stale synchronous: at most this many clocks ahead of the slowest trainer.
    Ssp(u64),
    /// Asynchronous: never wait.
    Asp,
}

impl Consistency {
    /// The staleness bound in clocks; `None` for ASP.
    pub fn staleness(self) -> Option<u64> {
        match self {
            Consistency::Bsp => Some(0),
            Consistency::Ssp(s) => Some(s),
            Consistency::Asp => None,
        }
    }

    /// Whether a pull made at `clock` may be answered when every trainer's updates up to
    /// (not including) clock `applied` are in.
    pub fn allows(self, clock: u64, applied: u64) -> bool {
        match self.staleness() {
            Some(s) => applied.saturating_add(s) >= clock,
            None => true,
        }
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Consistency::Bsp => write!(f, "bsp"),
            Consistency::Ssp(s) => write!(f, "ssp:{s}"),
            Consistency::Asp => write!(f, "asp"),
        }
    }
}

impl FromStr for Consistency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "bsp" => Ok(Consistency::Bsp),
            "asp" => Ok(Consistency::Asp),
            _ => {
                let bound = text
                    .strip_prefix("ssp:")
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| {
                        format!("consistency {text:?} is not bsp, ssp:S (S a whole number) or asp")
                    })?;
                Ok(if bound == 0 {
                    Consistency::Bsp
                } else {
                    Consistency::Ssp(bound)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_parse_and_print_back() {
        for text in ["bsp", "ssp:4", "asp"] {
            assert_eq!(text.parse::<Consistency>().unwrap().to_string(), text);
        }
        assert_eq!("ssp:0".parse::<Consistency>().unwrap(), Consistency::Bsp);
        for bad in ["", "ssp", "ssp:-1", "ssp:x", "BSP", "async"] {
            assert!(bad.parse::<Consistency>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_pull_waits_for_the_updates_older_than_its_clock_minus_the_bound() {
        // BSP: a pull at clock 5 needs clocks 0..5 of every trainer.
        assert!(!Consistency::Bsp.allows(5, 4));
        assert!(Consistency::Bsp.allows(5, 5));
        // SSP(2): clocks 0..3 are enough.
        assert!(!Consistency::Ssp(2).allows(5, 2));
        assert!(Consistency::Ssp(2).allows(5, 3));
        assert!(Consistency::Asp.allows(1_000, 0));
    }
}
