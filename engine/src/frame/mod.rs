//! The wire format shared by every TCP connection in Weir.
//!
//! Driver<->worker control traffic and worker<->worker shuffle fetches both travel as
//! frames: a fixed 16-byte big-endian header followed by a body.
//!
//! ```text
//! offset  size  field
//!      0     4  magic        0x5745_4952 ("WEIR")
//!      4     2  version      WIRE_VERSION
//!      6     1  kind         FrameKind
//!      7     1  flags        0 (ignored when reading, reserved for later use)
//!      8     4  body length  bytes that follow the header
//!     12     4  body CRC32   crc32fast over the body
//!     16     …  body
//! ```
//!
//! [`FrameCodec`] is a `tokio-util` codec that turns a byte stream into [`Frame`]s and back.
//! Decoding refuses a peer that is not speaking Weir as early as the bytes allow: the magic
//! number is checked as soon as four bytes have arrived and the version as soon as six
//! have, and an oversized frame is refused from its header alone, before any of its body is
//! buffered. Every malformed input is reported as a [`FrameError`]; nothing a peer sends can
//! make the codec panic.
//!
//! What the bodies mean is decided elsewhere: the authentication handshake (`auth`) uses
//! [`FrameKind::Hello`], the control protocol (`protocol`) uses [`FrameKind::Control`], and
//! the shuffle uses the `Fetch*` kinds.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder, Framed};

/// Magic number that opens every frame: the ASCII bytes "WEIR".
pub const MAGIC: u32 = 0x5745_4952;

/// Version of the frame format; peers with different versions refuse each other.
pub const WIRE_VERSION: u16 = 3;

/// Size of the fixed frame header in bytes.
pub const HEADER_BYTES: usize = 16;

/// Default upper bound on a frame body (256 MiB).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 256 << 20;

/// What a frame carries; decides how its body is interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// Authentication handshake message.
    Hello = 1,
    /// Driver<->worker control message.
    Control = 2,
    /// A request for shuffle blocks.
    FetchRequest = 3,
    /// One shuffle block in answer to a fetch request.
    FetchBlock = 4,
    /// End of the blocks answering a fetch request.
    FetchEnd = 5,
    /// A fetch request that failed.
    FetchError = 6,
    /// A free-form message between peers.
    Message = 7,
}

impl TryFrom<u8> for FrameKind {
    type Error = FrameError;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Ok(match value {
            1 => FrameKind::Hello,
            2 => FrameKind::Control,
            3 => FrameKind::FetchRequest,
            4 => FrameKind::FetchBlock,
            5 => FrameKind::FetchEnd,
            6 => FrameKind::FetchError,
            7 => FrameKind::Message,
            other => return Err(FrameError::UnknownKind(other)),
        })
    }
}

/// One unit of traffic on a Weir connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// How to interpret the body.
    pub kind: FrameKind,
    /// The payload, without the header.
    pub body: Bytes,
}

impl Frame {
    /// Builds a frame from a kind and anything that converts into [`Bytes`].
    pub fn new(kind: FrameKind, body: impl Into<Bytes>) -> Self {
        Frame {
            kind,
            body: body.into(),
        }
    }
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream does not start with [`MAGIC`]; the peer is not speaking Weir.
    #[error("bad magic number {found:#010x} (not a Weir peer?)")]
    BadMagic {
        /// The first four bytes, as a big-endian number.
        found: u32,
    },
    /// The peer speaks another version of the frame format.
    #[error("wire version mismatch: ours {ours}, peer's {theirs}")]
    VersionMismatch {
        /// Our [`WIRE_VERSION`].
        ours: u16,
        /// The version in the peer's header.
        theirs: u16,
    },
    /// The kind byte is not a known [`FrameKind`].
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// The body is larger than the codec's limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Body length announced or requested.
        len: usize,
        /// The codec's limit.
        max: usize,
    },
    /// The body does not match the CRC32 in the header.
    #[error("frame checksum mismatch")]
    BadChecksum,
    /// The underlying transport failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `tokio-util` codec for Weir frames.
///
/// Decoding parses the 16-byte header itself (the magic, version and checksum do not fit
/// `LengthDelimitedCodec`). A frame is only consumed from the buffer once all of it has
/// arrived, but its checksum is computed as its body arrives, over the bytes each read
/// brought while they are still in the cache, rather than over the whole body at the end
/// (a large body no longer is): the one state the codec keeps between calls.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    max_frame_bytes: usize,
    body: BodyChecksum,
}

/// The checksum of the body of the frame at the front of the buffer, over the bytes of it
/// that have arrived so far.
#[derive(Debug, Clone, Default)]
struct BodyChecksum {
    /// Body bytes the hasher has seen.
    hashed: usize,
    hasher: crc32fast::Hasher,
}

impl BodyChecksum {
    /// Hashes the body bytes of `arrived` (the buffer from the frame's header on) that it
    /// has not seen yet.
    fn update(&mut self, arrived: &[u8]) {
        let body = &arrived[HEADER_BYTES..];
        if self.hashed > body.len() {
            // Not this buffer's frame: start again.
            *self = BodyChecksum::default();
        }
        self.hasher.update(&body[self.hashed..]);
        self.hashed = body.len();
    }
}

impl FrameCodec {
    /// A codec refusing bodies larger than `max_frame_bytes` (capped at `u32::MAX`, the
    /// largest length the header can express).
    pub fn new(max_frame_bytes: usize) -> Self {
        FrameCodec {
            max_frame_bytes: clamp_max(max_frame_bytes),
            body: BodyChecksum::default(),
        }
    }

    /// The current body size limit.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// Changes the body size limit, e.g. to keep it small while a peer is unauthenticated.
    pub fn set_max_frame_bytes(&mut self, max_frame_bytes: usize) {
        self.max_frame_bytes = clamp_max(max_frame_bytes);
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(DEFAULT_MAX_FRAME_BYTES)
    }
}

fn clamp_max(max: usize) -> usize {
    max.min(usize::try_from(u32::MAX).unwrap_or(usize::MAX))
}

fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        // Refuse garbage as early as possible, before waiting for a whole header.
        if src.len() >= 4 {
            let found = read_u32(src, 0);
            if found != MAGIC {
                return Err(FrameError::BadMagic { found });
            }
        }
        if src.len() >= 6 {
            let theirs = u16::from_be_bytes([src[4], src[5]]);
            if theirs != WIRE_VERSION {
                return Err(FrameError::VersionMismatch {
                    ours: WIRE_VERSION,
                    theirs,
                });
            }
        }
        if src.len() < HEADER_BYTES {
            return Ok(None);
        }
        let FrameHead { kind, len, crc } =
            parse_header(&src[..HEADER_BYTES], self.max_frame_bytes)?;
        let total = HEADER_BYTES + len;
        self.body.update(&src[..total.min(src.len())]);
        if src.len() < total {
            // Room for the whole frame at once, so its body is read in place rather than
            // copied each time the buffer grows. The limit bounds it: a peer that has not
            // proved the secret yet is held to the handshake's small one, and the pages
            // are only touched as the bytes arrive.
            align_large_body(src, len);
            src.reserve(total - src.len());
            return Ok(None);
        }
        if std::mem::take(&mut self.body).hasher.finalize() != crc {
            return Err(FrameError::BadChecksum);
        }
        src.advance(HEADER_BYTES);
        let body = src.split_to(len).freeze();
        Ok(Some(Frame { kind, body }))
    }
}

/// What a frame's header says of the body behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    pub kind: FrameKind,
    pub len: usize,
    pub crc: u32,
}

/// Reads a whole header (`HEADER_BYTES`): refuses a wrong magic, another wire version,
/// an unknown kind and a body over `max_frame_bytes`.
pub fn parse_header(head: &[u8], max_frame_bytes: usize) -> Result<FrameHead, FrameError> {
    let found = read_u32(head, 0);
    if found != MAGIC {
        return Err(FrameError::BadMagic { found });
    }
    let theirs = u16::from_be_bytes([head[4], head[5]]);
    if theirs != WIRE_VERSION {
        return Err(FrameError::VersionMismatch {
            ours: WIRE_VERSION,
            theirs,
        });
    }
    let kind = FrameKind::try_from(head[6])?;
    // head[7] holds the flags; none are defined yet, so they are ignored.
    let len = usize::try_from(read_u32(head, 8)).unwrap_or(usize::MAX);
    if len > max_frame_bytes {
        return Err(FrameError::TooLarge {
            len,
            max: max_frame_bytes,
        });
    }
    Ok(FrameHead {
        kind,
        len,
        crc: read_u32(head, 12),
    })
}

/// Bodies from this size on are read to an 8-byte-aligned address.
const ALIGNED_BODY_BYTES: usize = 64 * 1024;

/// Moves the start of a large frame (its header and what of its body has arrived) to a
/// fresh buffer where the body starts 8-byte aligned, so that a reader can view numbers
/// in it in place (a parameter-server push's gradients). It copies only the bytes
/// already in, once per frame, and only when the body would not be aligned.
fn align_large_body(src: &mut BytesMut, len: usize) {
    const ALIGN: usize = 8;
    let misaligned = (src.as_ptr() as usize + HEADER_BYTES) % ALIGN;
    if len < ALIGNED_BODY_BYTES || misaligned == 0 {
        return;
    }
    let mut fresh = BytesMut::with_capacity(HEADER_BYTES + len + ALIGN);
    let pad = (ALIGN - (fresh.as_ptr() as usize + HEADER_BYTES) % ALIGN) % ALIGN;
    fresh.put_bytes(0, pad);
    fresh.advance(pad);
    fresh.extend_from_slice(src);
    *src = fresh;
}

impl Encoder<Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        let len = frame.body.len();
        let wire_len = match u32::try_from(len) {
            Ok(n) if len <= self.max_frame_bytes => n,
            _ => {
                return Err(FrameError::TooLarge {
                    len,
                    max: self.max_frame_bytes,
                })
            }
        };
        dst.reserve(HEADER_BYTES + len);
        dst.put_slice(&frame_header(
            frame.kind,
            wire_len,
            crc32fast::hash(&frame.body),
        ));
        dst.extend_from_slice(&frame.body);
        Ok(())
    }
}

/// The header of a frame of `kind` whose body is `len` bytes with CRC32 `crc`: for a
/// writer that sends the body from where it lies instead of through [`FrameCodec`].
pub fn frame_header(kind: FrameKind, len: u32, crc: u32) -> [u8; HEADER_BYTES] {
    let mut header = [0u8; HEADER_BYTES];
    header[0..4].copy_from_slice(&MAGIC.to_be_bytes());
    header[4..6].copy_from_slice(&WIRE_VERSION.to_be_bytes());
    header[6] = kind as u8;
    header[7] = 0;
    header[8..12].copy_from_slice(&len.to_be_bytes());
    header[12..16].copy_from_slice(&crc.to_be_bytes());
    header
}

/// A TCP connection carrying Weir frames.
pub type FramedStream = Framed<TcpStream, FrameCodec>;

/// Wraps a TCP connection in the frame codec (default size limit) and turns on
/// `TCP_NODELAY`, since control messages are small and latency-sensitive.
pub fn framed(stream: TcpStream) -> FramedStream {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("could not set TCP_NODELAY: {e}");
    }
    Framed::new(stream, FrameCodec::default())
}

#[cfg(test)]
mod tests;
