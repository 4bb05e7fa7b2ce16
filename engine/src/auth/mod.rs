//! Mutual shared-secret authentication between a driver and the workers that join it.
//!
//! Every worker connection starts with this handshake, before any control message
//! (`protocol`) is exchanged. Both sides hold the same [`Secret`]; it never travels on the
//! wire. Instead each side proves it knows the secret with an HMAC-SHA256 over fresh random
//! nonces from both sides, under a label that differs per role so a proof can never be
//! reflected back at its sender:
//!
//! ```text
//! worker -> driver  Hello     { role: "worker", binary_version, nonce_w }
//! driver -> worker  Challenge { binary_version, nonce_d,
//!                               proof_d = HMAC(secret, "weir-driver" || nonce_w || nonce_d) }
//! worker -> driver  Response  { proof_w = HMAC(secret, "weir-worker" || nonce_d || nonce_w) }
//!                   or Refuse { reason }        (driver's proof or version was wrong)
//! driver -> worker  Accepted  { worker_id }
//!                   or Refuse { reason }        (worker's proof or version was wrong)
//! ```
//!
//! The worker checks the driver first, so a worker never hands out a proof to a peer that
//! has not shown it knows the secret. Whichever side refuses sends a one-line reason (with a
//! code saying whether it was the secret or the version) before giving up, so the other
//! side can report it.
//!
//! Messages travel as [`FrameKind::Hello`] frames. Their bodies use a small hand-written
//! binary layout: a tag byte, then fields in order, strings as a big-endian `u16` length and
//! UTF-8 bytes, nonces and proofs as 32 raw bytes, ids as big-endian `u32`. While the peer
//! is unauthenticated the codec's frame limit is lowered to [`HANDSHAKE_MAX_FRAME_BYTES`],
//! and the whole exchange is bounded by a timeout.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{Sink, SinkExt, Stream, StreamExt};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

use crate::frame::{Frame, FrameError, FrameKind, FramedStream};

mod messages;
use messages::{Msg, RefuseCode};

type HmacSha256 = Hmac<Sha256>;

/// Largest frame accepted while the handshake runs; the messages are far smaller.
pub const HANDSHAKE_MAX_FRAME_BYTES: usize = 4096;

/// Role string a joining worker announces.
const WORKER_ROLE: &str = "worker";
/// HMAC label of the driver's proof.
const DRIVER_LABEL: &[u8] = b"weir-driver";
/// HMAC label of the worker's proof.
const WORKER_LABEL: &[u8] = b"weir-worker";
/// Longest string field written; longer ones are cut at a character boundary.
const MAX_STRING_BYTES: usize = 1024;
/// Size of nonces and proofs.
const NONCE_BYTES: usize = 32;

/// The shared secret a driver and its workers authenticate each other with.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A secret made of the given bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// A fresh secret of 32 random bytes from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Secret(bytes)
    }

    /// Reads a secret from a file: its raw content, less trailing whitespace (so a newline
    /// left by an editor does not matter). A missing, unreadable or empty file is an error
    /// naming the file.
    pub fn from_file(path: &Path) -> Result<Self, AuthError> {
        let mut bytes = std::fs::read(path).map_err(|e| AuthError::SecretFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
            bytes.pop();
        }
        if bytes.is_empty() {
            return Err(AuthError::SecretFile {
                path: path.to_path_buf(),
                message: "secret file is empty".to_string(),
            });
        }
        Ok(Secret(bytes))
    }

    /// The secret's bytes (to write a secret file for local workers).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as lowercase hexadecimal, e.g. to print it for the workers' command line.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        out
    }

    /// Parses a secret written by [`Secret::to_hex`] (either case, surrounding whitespace
    /// ignored). An empty string is an error.
    pub fn from_hex(s: &str) -> Result<Self, AuthError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AuthError::BadSecret("empty hex string".to_string()));
        }
        if s.len() & 1 == 1 {
            return Err(AuthError::BadSecret(format!(
                "hex string has an odd number of digits ({})",
                s.len()
            )));
        }
        fn digit(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        s.as_bytes()
            .chunks_exact(2)
            .enumerate()
            .map(|(i, pair)| match (digit(pair[0]), digit(pair[1])) {
                (Some(hi), Some(lo)) => Ok((hi << 4) | lo),
                _ => Err(AuthError::BadSecret(format!(
                    "not a hex digit at position {}",
                    if digit(pair[0]).is_none() {
                        2 * i
                    } else {
                        2 * i + 1
                    }
                ))),
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(Secret)
    }

    fn mac(&self) -> Result<HmacSha256, AuthError> {
        HmacSha256::new_from_slice(&self.0)
            .map_err(|e| AuthError::BadSecret(format!("unusable as an HMAC key: {e}")))
    }

    /// HMAC(secret, label || first || second).
    fn proof(
        &self,
        label: &[u8],
        first: &[u8; NONCE_BYTES],
        second: &[u8; NONCE_BYTES],
    ) -> Result<[u8; NONCE_BYTES], AuthError> {
        let mut mac = self.mac()?;
        mac.update(label);
        mac.update(first);
        mac.update(second);
        Ok(mac.finalize().into_bytes().into())
    }

    /// Constant-time check of a peer's proof.
    fn verify(
        &self,
        label: &[u8],
        first: &[u8; NONCE_BYTES],
        second: &[u8; NONCE_BYTES],
        proof: &[u8; NONCE_BYTES],
    ) -> Result<(), AuthError> {
        let mut mac = self.mac()?;
        mac.update(label);
        mac.update(first);
        mac.update(second);
        mac.verify_slice(proof).map_err(|_| AuthError::WrongSecret)
    }
}

/// Why a handshake (or loading a secret) failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The peer could not prove it knows our secret (or it refused us for the same reason).
    #[error("wrong secret")]
    WrongSecret,
    /// Driver and worker run different binaries.
    #[error("version mismatch: driver {driver}, worker {worker}")]
    VersionMismatch {
        /// The driver's binary version.
        driver: String,
        /// The worker's binary version.
        worker: String,
    },
    /// The peer refused the handshake for another reason, given here.
    #[error("refused by peer: {0}")]
    Refused(String),
    /// The peer sent something that is not a valid handshake message.
    #[error("malformed handshake: {0}")]
    Malformed(String),
    /// The peer hung up before the handshake completed.
    #[error("connection closed during handshake")]
    Closed,
    /// The handshake did not complete within its time limit.
    #[error("handshake timed out")]
    Timeout,
    /// The connection failed at the frame level.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A secret file could not be used.
    #[error("{path}: {message}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A secret given as text could not be parsed.
    #[error("invalid secret: {0}")]
    BadSecret(String),
}

/// Driver side of the handshake: authenticates a worker that just connected and, if it
/// proves the secret and runs the same binary version, tells it its `worker_id`. The id is
/// only sent once both checks have passed. The whole handshake is bounded by `timeout`.
pub async fn accept_worker(
    stream: &mut FramedStream,
    secret: &Secret,
    binary_version: &str,
    worker_id: u32,
    timeout: Duration,
) -> Result<(), AuthError> {
    let saved = stream.codec().max_frame_bytes();
    stream
        .codec_mut()
        .set_max_frame_bytes(HANDSHAKE_MAX_FRAME_BYTES);
    let result = tokio::time::timeout(
        timeout,
        driver_handshake(stream, secret, binary_version, worker_id),
    )
    .await
    .unwrap_or(Err(AuthError::Timeout));
    stream.codec_mut().set_max_frame_bytes(saved);
    if let Err(e) = &result {
        tracing::debug!("worker handshake failed: {e}");
    }
    result
}

/// Worker side of the handshake: authenticates the driver, proves the secret to it, and
/// returns the worker id the driver assigned. The whole handshake is bounded by `timeout`.
pub async fn join_driver(
    stream: &mut FramedStream,
    secret: &Secret,
    binary_version: &str,
    timeout: Duration,
) -> Result<u32, AuthError> {
    let saved = stream.codec().max_frame_bytes();
    stream
        .codec_mut()
        .set_max_frame_bytes(HANDSHAKE_MAX_FRAME_BYTES);
    let result = tokio::time::timeout(timeout, worker_handshake(stream, secret, binary_version))
        .await
        .unwrap_or(Err(AuthError::Timeout));
    stream.codec_mut().set_max_frame_bytes(saved);
    if let Err(e) = &result {
        tracing::debug!("driver handshake failed: {e}");
    }
    result
}

async fn driver_handshake<T>(
    t: &mut T,
    secret: &Secret,
    our_version: &str,
    worker_id: u32,
) -> Result<(), AuthError>
where
    T: Stream<Item = Result<Frame, FrameError>> + Sink<Frame, Error = FrameError> + Unpin,
{
    let (worker_version, nonce_w) = match recv(t).await? {
        Msg::Hello {
            role,
            binary_version,
            nonce,
        } => {
            if role != WORKER_ROLE {
                let e = AuthError::Malformed(format!("unexpected role {role:?}"));
                return refuse(t, e).await;
            }
            (binary_version, nonce)
        }
        Msg::Refuse { reason, .. } => return Err(AuthError::Refused(reason)),
        other => {
            let e = AuthError::Malformed(format!("expected Hello, got {}", other.name()));
            return refuse(t, e).await;
        }
    };

    let nonce_d = random_nonce();
    let proof_d = secret.proof(DRIVER_LABEL, &nonce_w, &nonce_d)?;
    send(
        t,
        &Msg::Challenge {
            binary_version: our_version.to_string(),
            nonce: nonce_d,
            proof: proof_d,
        },
    )
    .await?;

    let mismatch = || AuthError::VersionMismatch {
        driver: our_version.to_string(),
        worker: worker_version.clone(),
    };
    match recv(t).await? {
        Msg::Response { proof } => {
            if let Err(e) = secret.verify(WORKER_LABEL, &nonce_d, &nonce_w, &proof) {
                return refuse(t, e).await;
            }
            if worker_version != our_version {
                return refuse(t, mismatch()).await;
            }
            send(t, &Msg::Accepted { worker_id }).await
        }
        Msg::Refuse { code, reason } => Err(match code {
            RefuseCode::WrongSecret => AuthError::WrongSecret,
            RefuseCode::VersionMismatch => mismatch(),
            RefuseCode::Other => AuthError::Refused(reason),
        }),
        other => {
            let e = AuthError::Malformed(format!("expected Response, got {}", other.name()));
            refuse(t, e).await
        }
    }
}

async fn worker_handshake<T>(
    t: &mut T,
    secret: &Secret,
    our_version: &str,
) -> Result<u32, AuthError>
where
    T: Stream<Item = Result<Frame, FrameError>> + Sink<Frame, Error = FrameError> + Unpin,
{
    let nonce_w = random_nonce();
    send(
        t,
        &Msg::Hello {
            role: WORKER_ROLE.to_string(),
            binary_version: our_version.to_string(),
            nonce: nonce_w,
        },
    )
    .await?;

    let (driver_version, nonce_d) = match recv(t).await? {
        Msg::Challenge {
            binary_version,
            nonce,
            proof,
        } => {
            if let Err(e) = secret.verify(DRIVER_LABEL, &nonce_w, &nonce, &proof) {
                return refuse(t, e).await;
            }
            if binary_version != our_version {
                let e = AuthError::VersionMismatch {
                    driver: binary_version,
                    worker: our_version.to_string(),
                };
                return refuse(t, e).await;
            }
            (binary_version, nonce)
        }
        Msg::Refuse { reason, .. } => return Err(AuthError::Refused(reason)),
        other => {
            let e = AuthError::Malformed(format!("expected Challenge, got {}", other.name()));
            return refuse(t, e).await;
        }
    };

    let proof_w = secret.proof(WORKER_LABEL, &nonce_d, &nonce_w)?;
    send(t, &Msg::Response { proof: proof_w }).await?;

    match recv(t).await? {
        Msg::Accepted { worker_id } => Ok(worker_id),
        Msg::Refuse { code, reason } => Err(match code {
            RefuseCode::WrongSecret => AuthError::WrongSecret,
            RefuseCode::VersionMismatch => AuthError::VersionMismatch {
                driver: driver_version,
                worker: our_version.to_string(),
            },
            RefuseCode::Other => AuthError::Refused(reason),
        }),
        other => {
            let e = AuthError::Malformed(format!("expected Accepted, got {}", other.name()));
            refuse(t, e).await
        }
    }
}

fn random_nonce() -> [u8; NONCE_BYTES] {
    let mut nonce = [0u8; NONCE_BYTES];
    OsRng.fill_bytes(&mut nonce);
    nonce
}

/// Tells the peer why we give up (best effort: it may already be gone), then fails with
/// `error`.
async fn refuse<T, R>(t: &mut T, error: AuthError) -> Result<R, AuthError>
where
    T: Sink<Frame, Error = FrameError> + Unpin,
{
    let code = match error {
        AuthError::WrongSecret => RefuseCode::WrongSecret,
        AuthError::VersionMismatch { .. } => RefuseCode::VersionMismatch,
        _ => RefuseCode::Other,
    };
    let msg = Msg::Refuse {
        code,
        reason: error.to_string(),
    };
    if let Err(e) = send(t, &msg).await {
        tracing::debug!("could not tell the peer it was refused: {e}");
    }
    Err(error)
}

async fn send<T>(t: &mut T, msg: &Msg) -> Result<(), AuthError>
where
    T: Sink<Frame, Error = FrameError> + Unpin,
{
    t.send(Frame::new(FrameKind::Hello, msg.encode()))
        .await
        .map_err(from_frame_error)
}

async fn recv<T>(t: &mut T) -> Result<Msg, AuthError>
where
    T: Stream<Item = Result<Frame, FrameError>> + Unpin,
{
    match t.next().await {
        None => Err(AuthError::Closed),
        Some(Err(e)) => Err(from_frame_error(e)),
        Some(Ok(frame)) if frame.kind != FrameKind::Hello => Err(AuthError::Malformed(format!(
            "expected a handshake frame, got a {:?} frame",
            frame.kind
        ))),
        Some(Ok(frame)) => Msg::decode(&frame.body),
    }
}

/// A peer hanging up shows as one of several I/O errors depending on timing; report them
/// all as [`AuthError::Closed`].
fn from_frame_error(e: FrameError) -> AuthError {
    use std::io::ErrorKind;
    match &e {
        FrameError::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::UnexpectedEof
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
            ) =>
        {
            AuthError::Closed
        }
        _ => AuthError::Frame(e),
    }
}

#[cfg(test)]
mod tests;
