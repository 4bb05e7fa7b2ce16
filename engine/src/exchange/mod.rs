//! The push exchange: tagged batches sent straight from the worker that makes them to the
//! worker that owns their target, for the long-lived tasks of Pregel (messages of a
//! superstep) and of the parameter server (pushes and pulls of a clock).
//!
//! Where the shuffle pulls committed blocks, the exchange pushes: a sender hands
//! [`Pusher::send`] a batch for `(channel, tag, target)` and the batch goes to the peer
//! that holds the target, over one authenticated connection per peer (the same handshake
//! and frames as the shuffle's, [`FrameKind::Message`]). A batch for a target on the
//! sender's own worker goes straight into its [`Mailbox`]. The sending thread writes the
//! frame to the peer's connection itself (no hand-off to an I/O thread on the way out),
//! so a sender that outruns the network waits on the socket (backpressure) instead of
//! buffering without end. On the way in, a thread per connection reads the frames (a
//! short spin, then a blocking read) and delivers them into the mailbox (`receive`): the
//! async runtime sees a connection only until its first batch. The driver never relays data; it only runs
//! the barriers.
//!
//! A tag (a superstep, a clock) ends for a sender when it calls [`Pusher::flush`]: a flush
//! marker goes to every peer after that sender's batches, on the same connection, so it
//! arrives after them. A receiver knows it has a tag's whole input once every sender's
//! marker is in ([`Mailbox::wait_flushed`]).
//!
//! ```text
//!  worker A                         worker B                    driver
//!  step s: compute, send(b, s, p) ──batch──▶ mailbox[s][p]
//!          flush(s) ───────────────flush──▶ flushed[s] += A
//!          StepDone(s) ─────────────────────────────────────────▶ barrier
//!                                            StepDone(s) ───────▶ barrier
//!  ◀──────────────────────────── Step(s+1) ───────────────────── all done
//!  wait_flushed(s) … take(s, p)              wait_flushed(s) … take(s, p)
//! ```
//!
//! A target that answers requests (a parameter-server shard) or waits for answers (a
//! trainer) subscribes instead ([`Mailbox::subscribe`]): its batches go to a queue as they
//! arrive, in arrival order, rather than waiting for a tag's flush.
//!
//! Wire layout of a `Message` frame body: a fixed [`HEADER_BYTES`]-byte little-endian
//! header (`channel u64, tag u64, from u32, to u32, kind u8`, then seven zero bytes, so
//! that the batch starts 8-byte aligned when the frame's body does; see
//! `frame::align_large_body`) and the batch's bytes. A frame that does not parse closes
//! its connection with a logged error.

use std::collections::{BTreeSet, HashMap};
use std::io::{IoSlice, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use parking_lot::{Condvar, Mutex};
use tokio::net::TcpStream;

use crate::auth::{join_driver, Secret};
use crate::error::TaskError;
use crate::frame::{
    frame_header, framed, FrameKind, DEFAULT_MAX_FRAME_BYTES, HEADER_BYTES as FRAME_HEADER_BYTES,
};
use crate::protocol::binary_version;
use crate::task::WorkerId;

/// One use of the exchange: a Pregel run or a parameter-server job.
pub type ChannelId = u64;

/// Bytes of the header at the front of every `Message` frame body.
pub const HEADER_BYTES: usize = 32;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a `Message` frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKind {
    /// A batch of records for the target.
    Batch = 0,
    /// The sender has sent everything of this tag.
    Flush = 1,
}

/// The header of a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub channel: ChannelId,
    /// The superstep or clock the batch belongs to.
    pub tag: u64,
    /// The sending worker.
    pub from: WorkerId,
    /// The target (a partition, a server shard) on the receiving worker.
    pub to: u32,
    pub kind: BatchKind,
}

impl BatchHeader {
    /// The header's bytes, at the front of a frame body.
    pub fn to_bytes(&self) -> [u8; HEADER_BYTES] {
        let mut b = [0u8; HEADER_BYTES];
        b[0..8].copy_from_slice(&self.channel.to_le_bytes());
        b[8..16].copy_from_slice(&self.tag.to_le_bytes());
        b[16..20].copy_from_slice(&self.from.to_le_bytes());
        b[20..24].copy_from_slice(&self.to.to_le_bytes());
        b[24] = self.kind as u8;
        b
    }

    /// The frame body: this header, then `payload`.
    pub fn encode(&self, payload: &[u8]) -> Bytes {
        let mut b = BytesMut::with_capacity(HEADER_BYTES + payload.len());
        b.put_slice(&self.to_bytes());
        b.extend_from_slice(payload);
        b.freeze()
    }

    /// Splits a frame body into its header and payload.
    pub fn decode(mut body: Bytes) -> Result<(BatchHeader, Bytes), String> {
        if body.len() < HEADER_BYTES {
            return Err(format!("message of {} bytes has no header", body.len()));
        }
        let channel = body.get_u64_le();
        let tag = body.get_u64_le();
        let from = body.get_u32_le();
        let to = body.get_u32_le();
        let kind = match body.get_u8() {
            0 => BatchKind::Batch,
            1 => BatchKind::Flush,
            other => return Err(format!("unknown message kind {other}")),
        };
        body.advance(HEADER_BYTES - 25);
        let header = BatchHeader {
            channel,
            tag,
            from,
            to,
            kind,
        };
        Ok((header, body))
    }
}

/// A batch handed to a subscribed target.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub header: BatchHeader,
    pub payload: Bytes,
}

#[derive(Default)]
struct MailState {
    batches: HashMap<(ChannelId, u64, u32), Vec<Bytes>>,
    subscribers: HashMap<(ChannelId, u32), crossbeam_channel::Sender<Delivery>>,
    /// Channels that keep only the latest few tags of each target (snapshots).
    retention: HashMap<ChannelId, usize>,
    flushed: HashMap<(ChannelId, u64), BTreeSet<WorkerId>>,
    aborted: HashMap<ChannelId, String>,
    closed: Option<String>,
}

/// The batches pushed to one worker, by channel, tag and target, and which senders have
/// flushed each tag.
#[derive(Default)]
pub struct Mailbox {
    state: Mutex<MailState>,
    arrived: Condvar,
}

impl Mailbox {
    /// An empty mailbox.
    pub fn new() -> Arc<Self> {
        Arc::new(Mailbox::default())
    }

    /// Stores a pushed batch or a sender's flush marker.
    pub fn deliver(&self, header: BatchHeader, payload: Bytes) {
        let mut s = self.state.lock();
        let key = (header.channel, header.to);
        if header.kind == BatchKind::Batch {
            if let Some(subscriber) = s.subscribers.get(&key) {
                if subscriber.send(Delivery { header, payload }).is_err() {
                    s.subscribers.remove(&key);
                }
                return;
            }
        }
        match header.kind {
            BatchKind::Batch => {
                s.batches
                    .entry((header.channel, header.tag, header.to))
                    .or_default()
                    .push(payload);
                if let Some(&keep) = s.retention.get(&header.channel) {
                    drop_older_tags(&mut s.batches, header.channel, header.to, keep);
                }
            }
            BatchKind::Flush => {
                s.flushed
                    .entry((header.channel, header.tag))
                    .or_default()
                    .insert(header.from);
            }
        }
        self.arrived.notify_all();
    }

    /// Sends every later batch for target `to` on `channel` to the returned queue, in
    /// arrival order, instead of keeping it for [`take`](Self::take). The queue ends
    /// (disconnects) when the target is unsubscribed or its channel dropped.
    pub fn subscribe(&self, channel: ChannelId, to: u32) -> crossbeam_channel::Receiver<Delivery> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.state.lock().subscribers.insert((channel, to), tx);
        rx
    }

    /// Keeps only the latest `keep` tags of each target on `channel` (the snapshots of a
    /// service, replaced as newer ones arrive).
    pub fn retain_latest(&self, channel: ChannelId, keep: usize) {
        self.state.lock().retention.insert(channel, keep.max(1));
    }

    /// The `(target, tag)` pairs of the batches held on `channel` whose target `pick`s.
    pub fn held_tags(&self, channel: ChannelId, pick: impl Fn(u32) -> bool) -> Vec<(u32, u64)> {
        let mut held: Vec<(u32, u64)> = self
            .state
            .lock()
            .batches
            .keys()
            .filter(|k| k.0 == channel && pick(k.2))
            .map(|k| (k.2, k.1))
            .collect();
        held.sort_unstable();
        held
    }

    /// Ends the subscription of `to` on `channel`: its queue disconnects once drained.
    pub fn unsubscribe(&self, channel: ChannelId, to: u32) {
        self.state.lock().subscribers.remove(&(channel, to));
    }

    /// Waits until every one of `senders` has flushed `tag` on `channel`.
    pub fn wait_flushed(
        &self,
        channel: ChannelId,
        tag: u64,
        senders: &[WorkerId],
        timeout: Duration,
    ) -> Result<(), TaskError> {
        let deadline = Instant::now() + timeout;
        let mut s = self.state.lock();
        loop {
            let done = s
                .flushed
                .get(&(channel, tag))
                .is_some_and(|f| senders.iter().all(|w| f.contains(w)));
            if done {
                return Ok(());
            }
            if let Some(reason) = s.closed.as_ref().or(s.aborted.get(&channel)) {
                return Err(TaskError::Cancelled(reason.clone()));
            }
            if self.arrived.wait_until(&mut s, deadline).timed_out() {
                let have = s.flushed.get(&(channel, tag)).cloned().unwrap_or_default();
                let missing: Vec<_> = senders.iter().filter(|w| !have.contains(w)).collect();
                return Err(TaskError::failed(format!(
                    "messages of step {tag} from workers {missing:?} did not arrive within {}s",
                    timeout.as_secs()
                )));
            }
        }
    }

    /// Takes the batches pushed to `to` for `tag` on `channel`.
    pub fn take(&self, channel: ChannelId, tag: u64, to: u32) -> Vec<Bytes> {
        self.state
            .lock()
            .batches
            .remove(&(channel, tag, to))
            .unwrap_or_default()
    }

    /// The batches pushed to `to` for `tag` on `channel`, left in place (a checkpoint
    /// stays until it is forgotten).
    pub fn peek(&self, channel: ChannelId, tag: u64, to: u32) -> Vec<Bytes> {
        self.state
            .lock()
            .batches
            .get(&(channel, tag, to))
            .cloned()
            .unwrap_or_default()
    }

    /// Drops the batches of `channel` whose tag `drop` picks.
    pub fn forget_tags(&self, channel: ChannelId, drop: impl Fn(u64) -> bool) {
        let mut s = self.state.lock();
        s.batches.retain(|k, _| k.0 != channel || !drop(k.1));
        s.flushed.retain(|k, _| k.0 != channel || !drop(k.1));
    }

    /// Ends every wait on `channel` with `reason`, and its subscriptions: its session was
    /// given up.
    pub fn abort_channel(&self, channel: ChannelId, reason: &str) {
        let mut s = self.state.lock();
        s.aborted.insert(channel, reason.to_string());
        s.subscribers.retain(|k, _| k.0 != channel);
        self.arrived.notify_all();
    }

    /// Forgets the flush markers of `tag` (once its input was taken).
    pub fn finish_tag(&self, channel: ChannelId, tag: u64) {
        self.state.lock().flushed.remove(&(channel, tag));
    }

    /// Drops everything of `channel`, its subscriptions too: its run is over or rolled
    /// back.
    pub fn drop_channel(&self, channel: ChannelId) {
        let mut s = self.state.lock();
        s.batches.retain(|k, _| k.0 != channel);
        s.subscribers.retain(|k, _| k.0 != channel);
        s.flushed.retain(|k, _| k.0 != channel);
    }

    /// Ends every wait: the job is over.
    pub fn close(&self, reason: &str) {
        let mut s = self.state.lock();
        if s.closed.is_none() {
            s.closed = Some(reason.to_string());
        }
        s.subscribers.clear();
        self.arrived.notify_all();
    }

    /// Bytes held, for tests and metrics.
    pub fn bytes_held(&self) -> usize {
        self.state
            .lock()
            .batches
            .values()
            .flatten()
            .map(Bytes::len)
            .sum()
    }
}

/// Drops the batches of `to` on `channel` but those of its latest `keep` tags.
fn drop_older_tags(
    batches: &mut HashMap<(ChannelId, u64, u32), Vec<Bytes>>,
    channel: ChannelId,
    to: u32,
    keep: usize,
) {
    let mut tags: Vec<u64> = batches
        .keys()
        .filter(|k| k.0 == channel && k.2 == to)
        .map(|k| k.1)
        .collect();
    if tags.len() <= keep {
        return;
    }
    tags.sort_unstable();
    for tag in &tags[..tags.len() - keep] {
        batches.remove(&(channel, *tag, to));
    }
}

/// A connection to a peer, written by the sending threads themselves, a whole frame at a
/// time under its lock: no hand-off to another thread on the way out.
type Link = Arc<Mutex<std::net::TcpStream>>;

/// A `Message` frame on its way to a peer: the frame's header and the batch's, made (the
/// checksum too) on the sending thread, and the batch, written from where it lies.
struct OutgoingFrame {
    head: [u8; FRAME_HEADER_BYTES + HEADER_BYTES],
    payload: Bytes,
}

impl OutgoingFrame {
    /// The frame of `payload` under `header`; refused when it exceeds the frame limit.
    fn new(header: BatchHeader, payload: Bytes) -> Result<OutgoingFrame, String> {
        let batch_head = header.to_bytes();
        let body = HEADER_BYTES + payload.len();
        let len = u32::try_from(body)
            .ok()
            .filter(|_| body <= DEFAULT_MAX_FRAME_BYTES)
            .ok_or_else(|| {
                format!(
                    "a batch of {body} bytes exceeds the frame limit of {DEFAULT_MAX_FRAME_BYTES}"
                )
            })?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&batch_head);
        crc.update(&payload);
        let mut head = [0u8; FRAME_HEADER_BYTES + HEADER_BYTES];
        head[..FRAME_HEADER_BYTES].copy_from_slice(&frame_header(
            FrameKind::Message,
            len,
            crc.finalize(),
        ));
        head[FRAME_HEADER_BYTES..].copy_from_slice(&batch_head);
        Ok(OutgoingFrame { head, payload })
    }
}

/// Writes `frame` whole, its header and batch in one system call where the socket takes
/// them, the batch from its own buffer. Waits while the peer's socket buffer is full.
fn write_frame(stream: &mut std::net::TcpStream, frame: &OutgoingFrame) -> std::io::Result<()> {
    let mut parts: [&[u8]; 2] = [&frame.head, &frame.payload];
    let mut first = 0;
    while first < parts.len() {
        let slices: Vec<IoSlice<'_>> = parts[first..].iter().map(|p| IoSlice::new(p)).collect();
        let mut written = match stream.write_vectored(&slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        while written > 0 && first < parts.len() {
            let part = parts[first];
            if written >= part.len() {
                written -= part.len();
                first += 1;
            } else {
                parts[first] = &part[written..];
                written = 0;
            }
        }
        while first < parts.len() && parts[first].is_empty() {
            first += 1;
        }
    }
    Ok(())
}

/// How a worker reaches its peers: its I/O runtime and the cluster's secret.
#[derive(Clone)]
pub struct Network {
    pub runtime: tokio::runtime::Handle,
    pub secret: Arc<Secret>,
}

/// The sending side of one worker: a link per peer, opened on first use.
pub struct Pusher {
    /// `None` in an in-process run, where every target is local.
    network: Option<Network>,
    me: WorkerId,
    local: Arc<Mailbox>,
    links: Mutex<HashMap<WorkerId, Link>>,
}

impl Pusher {
    /// A pusher for worker `me`, delivering its own batches into `local` and the others'
    /// over `network`.
    pub fn new(network: Option<Network>, me: WorkerId, local: Arc<Mailbox>) -> Self {
        Pusher {
            network,
            me,
            local,
            links: Mutex::default(),
        }
    }

    /// Sends `payload` for `to` under `(channel, tag)` to worker `peer` at `address`.
    /// The payload is not copied: a local target gets it as it is, a remote one through a
    /// write straight from it. Call from a task thread, never from the async runtime: it
    /// writes on the sending thread and waits while the peer's socket buffer is full.
    pub fn send(
        &self,
        peer: WorkerId,
        address: &str,
        channel: ChannelId,
        tag: u64,
        to: u32,
        payload: impl Into<Bytes>,
    ) -> Result<(), TaskError> {
        let header = BatchHeader {
            channel,
            tag,
            from: self.me,
            to,
            kind: BatchKind::Batch,
        };
        self.push(peer, address, header, payload.into())
    }

    /// Ends `tag` on `channel` for this worker: a flush marker to every one of `peers`
    /// (this worker included), behind everything sent before.
    pub fn flush(
        &self,
        peers: &[(WorkerId, String)],
        channel: ChannelId,
        tag: u64,
    ) -> Result<(), TaskError> {
        for (peer, address) in peers {
            let header = BatchHeader {
                channel,
                tag,
                from: self.me,
                to: 0,
                kind: BatchKind::Flush,
            };
            self.push(*peer, address, header, Bytes::new())?;
        }
        Ok(())
    }

    fn push(
        &self,
        peer: WorkerId,
        address: &str,
        header: BatchHeader,
        payload: Bytes,
    ) -> Result<(), TaskError> {
        if peer == self.me {
            self.local.deliver(header, payload);
            return Ok(());
        }
        let link = self.link(peer, address)?;
        let frame = OutgoingFrame::new(header, payload)
            .map_err(|e| TaskError::failed(format!("pushing to worker {peer}: {e}")))?;
        let written = write_frame(&mut link.lock(), &frame);
        written.map_err(|_| {
            self.links.lock().remove(&peer);
            TaskError::failed(format!("the link to worker {peer} at {address} closed"))
        })
    }

    /// The link to `peer`, connecting and authenticating on first use.
    fn link(&self, peer: WorkerId, address: &str) -> Result<Link, TaskError> {
        if let Some(link) = self.links.lock().get(&peer) {
            return Ok(link.clone());
        }
        let network = self.network.as_ref().ok_or_else(|| {
            TaskError::failed(format!(
                "worker {peer} is not reachable from an in-process run"
            ))
        })?;
        let addr = address.to_string();
        let link = network
            .runtime
            .block_on(open_link(addr, network.secret.clone()))
            .map_err(|e| {
                TaskError::failed(format!("pushing to worker {peer} at {address}: {e}"))
            })?;
        // Two threads may have connected at once: all use the first link kept, so that a
        // sender's batches and its flush marker share one connection, in order.
        Ok(self.links.lock().entry(peer).or_insert(link).clone())
    }
}

/// Connects and authenticates to a peer's data server; returns the connection as a
/// blocking socket for the sending threads to write.
async fn open_link(address: String, secret: Arc<Secret>) -> Result<Link, String> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&address))
        .await
        .map_err(|_| "connection timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let mut conn = framed(stream);
    join_driver(&mut conn, &secret, &binary_version(), HANDSHAKE_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    // From here on the link only writes, and its senders write their frames themselves.
    let parts = conn.into_parts();
    let mut stream = parts.io.into_std().map_err(|e| e.to_string())?;
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    if !parts.write_buf.is_empty() {
        stream
            .write_all(&parts.write_buf)
            .map_err(|e| e.to_string())?;
    }
    Ok(Arc::new(Mutex::new(stream)))
}

pub mod receive;
#[cfg(test)]
mod tests;
