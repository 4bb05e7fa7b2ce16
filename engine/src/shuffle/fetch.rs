//! The shuffle's data plane: each worker serves its map outputs over TCP
//! ([`serve_blocks`]), and reduce tasks fetch from peers through [`TcpFetcher`].
//!
//! A connection starts with the same mutual challenge–response as the control connection
//! (peers prove they hold the job's secret), then carries requests: a `FetchRequest` frame
//! asks for one reduce partition of some map outputs; the answer is one `FetchBlock` frame
//! per block (`[map u32 LE][block]`), a `FetchError` for a map output the peer does not hold,
//! and `FetchEnd`. Connections are kept in a small pool per peer and reused.
//!
//! The same server takes the batches peers push (`Message` frames, see `exchange`): a
//! connection's first batch is delivered into the worker's mailbox here, and the
//! connection then goes to a thread of its own that delivers the rest
//! (`exchange::receive`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::Sender;

use super::{FetchItem, ShuffleStore};
use crate::auth::{accept_worker, join_driver, Secret};
use crate::error::TaskError;
use crate::exchange::receive::spawn_receiver;
use crate::exchange::{BatchHeader, Mailbox};
use crate::frame::{framed, Frame, FrameKind, FramedStream};
use crate::plan::ShuffleId;
use crate::protocol::{binary_version, decode, encode, FetchFailure, FetchRequest};
use crate::task::WorkerId;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(15);
const IDLE_CONNECTIONS_PER_PEER: usize = 4;

/// Serves this worker's map outputs to authenticated peers until the listener fails.
pub async fn serve_blocks(
    listener: TcpListener,
    store: Arc<ShuffleStore>,
    mailbox: Arc<Mailbox>,
    secret: Arc<Secret>,
    worker: WorkerId,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("shuffle server stopped accepting: {e}");
                return;
            }
        };
        let store = store.clone();
        let mailbox = mailbox.clone();
        let secret = secret.clone();
        tokio::spawn(async move {
            let mut conn = framed(stream);
            if let Err(e) = accept_worker(
                &mut conn,
                &secret,
                &binary_version(),
                worker,
                HANDSHAKE_TIMEOUT,
            )
            .await
            {
                tracing::warn!("refused shuffle connection from {peer}: {e}");
                return;
            }
            let pushing = match serve_connection(&mut conn, &store, &mailbox).await {
                Ok(pushing) => pushing,
                Err(e) => {
                    tracing::warn!("data connection from {peer} closed: {e}");
                    return;
                }
            };
            if pushing {
                let parts = conn.into_parts();
                let handed = parts.io.into_std().and_then(|stream| {
                    spawn_receiver(
                        stream,
                        parts.read_buf.freeze(),
                        parts.codec.max_frame_bytes(),
                        mailbox,
                        peer,
                    )
                });
                if let Err(e) = handed {
                    tracing::warn!("data connection from {peer} closed: {e}");
                }
            }
        });
    }
}

/// Serves one peer's connection: answers its fetch requests until it closes (`false`),
/// or delivers the first batch it pushes into `mailbox` and returns `true`: the
/// connection is a push link, read from then on by a thread of its own
/// ([`spawn_receiver`]).
async fn serve_connection(
    conn: &mut FramedStream,
    store: &ShuffleStore,
    mailbox: &Mailbox,
) -> Result<bool, String> {
    while let Some(frame) = conn.next().await {
        let frame = frame.map_err(|e| e.to_string())?;
        match frame.kind {
            FrameKind::FetchRequest => {
                let req: FetchRequest = decode(&frame.body)?;
                serve_fetch(conn, store, req).await?;
            }
            FrameKind::Message => {
                let (header, payload) = BatchHeader::decode(frame.body)?;
                mailbox.deliver(header, payload);
                return Ok(true);
            }
            other => return Err(format!("unexpected {other:?} frame")),
        }
    }
    Ok(false)
}

/// Sends the blocks one fetch request asks for, then `FetchEnd`.
async fn serve_fetch(
    conn: &mut FramedStream,
    store: &ShuffleStore,
    req: FetchRequest,
) -> Result<(), String> {
    for map in req.maps {
        match store.blocks(req.shuffle, map as usize, req.reduce) {
            Some(blocks) => {
                for block in blocks {
                    let bytes = match block {
                        super::StoredBlock::Memory(b) => b,
                        disk => tokio::task::spawn_blocking(move || disk.load())
                            .await
                            .map_err(|e| e.to_string())?
                            .map_err(|e| format!("reading a spilled block: {e}"))?,
                    };
                    let mut body = BytesMut::with_capacity(4 + bytes.len());
                    body.put_u32_le(map);
                    body.extend_from_slice(&bytes);
                    conn.send(Frame::new(FrameKind::FetchBlock, body.freeze()))
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            None => {
                let failure = FetchFailure {
                    map,
                    message: "map output not held by this worker".into(),
                };
                conn.send(Frame::new(FrameKind::FetchError, encode(&failure)))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    conn.send(Frame::new(FrameKind::FetchEnd, Bytes::new()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

type Pool = Arc<Mutex<HashMap<String, Vec<FramedStream>>>>;

/// Fetches blocks from peers over TCP on the worker's tokio runtime.
pub struct TcpFetcher {
    runtime: tokio::runtime::Handle,
    secret: Arc<Secret>,
    pool: Pool,
}

impl TcpFetcher {
    /// A fetcher running on `runtime`, authenticating with `secret`.
    pub fn new(runtime: tokio::runtime::Handle, secret: Arc<Secret>) -> Self {
        TcpFetcher {
            runtime,
            secret,
            pool: Pool::default(),
        }
    }
}

async fn connect(address: &str, secret: &Secret) -> Result<FramedStream, String> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| "connection timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let mut conn = framed(stream);
    join_driver(&mut conn, secret, &binary_version(), HANDSHAKE_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Streams one request's blocks into `sink`. Returns the connection when it can be reused.
async fn fetch_once(
    mut conn: FramedStream,
    req: &FetchRequest,
    sink: &Sender<FetchItem>,
) -> Result<Option<FramedStream>, (usize, String)> {
    let first = req.maps.first().copied().unwrap_or(0) as usize;
    conn.send(Frame::new(FrameKind::FetchRequest, encode(req)))
        .await
        .map_err(|e| (first, e.to_string()))?;
    loop {
        let frame = match tokio::time::timeout(READ_TIMEOUT, conn.next()).await {
            Err(_) => return Err((first, "peer stopped answering".into())),
            Ok(None) => return Err((first, "peer closed the connection".into())),
            Ok(Some(Err(e))) => return Err((first, e.to_string())),
            Ok(Some(Ok(f))) => f,
        };
        match frame.kind {
            FrameKind::FetchBlock if frame.body.len() >= 4 => {
                let map = u32::from_le_bytes(frame.body[..4].try_into().expect("4 bytes"));
                let bytes = frame.body.slice(4..);
                if super::block::verify_block(&bytes).is_err() {
                    return Err((map as usize, "corrupt block".into()));
                }
                if sink.send(FetchItem::Block { map, bytes }).await.is_err() {
                    // The task stopped reading (it failed); the stream is mid-answer.
                    return Ok(None);
                }
            }
            FrameKind::FetchError => {
                let f: FetchFailure = decode(&frame.body).map_err(|e| (first, e))?;
                return Err((f.map as usize, f.message));
            }
            FrameKind::FetchEnd => return Ok(Some(conn)),
            other => return Err((first, format!("unexpected {other:?} frame"))),
        }
    }
}

impl TcpFetcher {
    /// Starts fetching reduce partition `reduce` of map outputs `maps` of `shuffle` from
    /// `peer` at `address`; delivers every block, then `Done` or `Failed`, into `sink`.
    /// Returns at once.
    pub fn fetch(
        &self,
        peer: WorkerId,
        address: &str,
        shuffle: ShuffleId,
        reduce: usize,
        maps: Vec<u32>,
        sink: Sender<FetchItem>,
    ) {
        let address = address.to_string();
        let secret = self.secret.clone();
        let pool = self.pool.clone();
        self.runtime.spawn(async move {
            let req = FetchRequest {
                shuffle,
                reduce,
                maps,
            };
            let first = req.maps.first().copied().unwrap_or(0) as usize;
            let pooled = pool.lock().get_mut(&address).and_then(Vec::pop);
            let conn = match pooled {
                Some(c) => Ok(c),
                None => connect(&address, &secret).await.map_err(|e| (first, e)),
            };
            let outcome = match conn {
                Ok(conn) => fetch_once(conn, &req, &sink).await,
                Err(e) => Err(e),
            };
            let item = match outcome {
                Ok(reusable) => {
                    if let Some(conn) = reusable {
                        let mut pool = pool.lock();
                        let idle = pool.entry(address).or_default();
                        if idle.len() < IDLE_CONNECTIONS_PER_PEER {
                            idle.push(conn);
                        }
                    }
                    FetchItem::Done { peer }
                }
                Err((map, message)) => FetchItem::Failed(TaskError::FetchFailed {
                    shuffle,
                    map_partition: map,
                    worker: peer,
                    message: format!("{address}: {message}"),
                }),
            };
            let _ = sink.send(item).await;
        });
    }
}
