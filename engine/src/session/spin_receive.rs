//! Receiving a session's answers and requests with a short spin before sleeping.
//!
//! A trainer waits for its pull's answer, and a shard for the next request, once per
//! clock: thousands of times a second at small minibatches. Sleeping on the queue at once
//! makes every one of those waits a futex sleep and a wake-up, and on a virtual machine
//! the wake-up of an idle CPU is an interrupt to the hypervisor, tens of microseconds. A
//! short spin that yields the CPU on each turn catches the answers that come back within
//! that window with neither, and still lets any other runnable thread run; past it, the
//! wait sleeps as before.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

/// How long a wait spins, yielding, before it sleeps.
pub const SPIN: Duration = Duration::from_micros(50);

/// The next item of `queue`, spinning up to [`SPIN`] before sleeping up to `timeout`.
pub fn recv_spinning<T>(queue: &Receiver<T>, timeout: Duration) -> Result<T, RecvTimeoutError> {
    let start = Instant::now();
    loop {
        match queue.try_recv() {
            Ok(item) => return Ok(item),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        let waited = start.elapsed();
        if waited >= SPIN {
            return queue.recv_timeout(timeout.saturating_sub(waited));
        }
        std::thread::yield_now();
    }
}

/// The next item of `queue`, spinning up to [`SPIN`] before sleeping until one comes;
/// `None` once the queue has ended.
pub fn recv_spinning_forever<T>(queue: &Receiver<T>) -> Option<T> {
    // A timeout past any deadline makes the sleep a plain `recv`.
    recv_spinning(queue, Duration::MAX).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_already_queued_comes_at_once_and_an_ended_queue_says_so() {
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(7).unwrap();
        assert_eq!(recv_spinning(&rx, Duration::from_secs(1)), Ok(7));
        drop(tx);
        assert_eq!(
            recv_spinning(&rx, Duration::from_secs(1)),
            Err(RecvTimeoutError::Disconnected)
        );
        assert_eq!(recv_spinning_forever(&rx), None);
    }

    #[test]
    fn a_wait_past_the_spin_sleeps_until_the_item_comes_or_times_out() {
        let (tx, rx) = crossbeam_channel::unbounded();
        assert_eq!(recv_spinning(&rx, SPIN * 4), Err(RecvTimeoutError::Timeout));
        let sender = std::thread::spawn(move || {
            std::thread::sleep(SPIN * 4);
            tx.send(1).unwrap();
            tx
        });
        assert_eq!(recv_spinning_forever(&rx), Some(1));
        drop(sender.join().unwrap());
        assert_eq!(recv_spinning_forever(&rx), None);
    }
}
