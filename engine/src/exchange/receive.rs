//! The receiving end of a push link, on a thread of its own.
//!
//! A peer's pushed batches arrive on a connection that carries nothing else once its
//! first batch has come (the sending side, [`Pusher`](super::Pusher), writes them from
//! its own threads). The data server hands such a connection to a thread that reads it
//! and delivers each batch into the worker's mailbox, as the sending side writes it: a
//! batch that lands goes to this one thread, which delivers it, rather than to the async
//! runtime's poller, which would pass it to a runtime thread first. At a parameter
//! server's small minibatches that hop was a good part of every clock. A read that finds
//! nothing spins for up to [`SPIN`], yielding, before it blocks: the frames of a clock
//! come microseconds apart, and a read that slept at once would pay a wake-up for each.
//! The thread also keeps the checksum of large bodies off the runtime: each read of a
//! body is hashed while its bytes are in the cache.

use std::io::ErrorKind;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};

use super::{BatchHeader, Mailbox};
use crate::frame::{parse_header, Frame, FrameError, FrameHead, FrameKind, HEADER_BYTES};

/// Bytes read from the socket at a time: many small frames to a read.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// How long a read spins, yielding, before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// Reads the next frame from `source`, blocking; `None` when the source ends between
/// frames. A body over `max_frame_bytes`, a bad header or checksum, and an end inside a
/// frame are errors. The body is hashed read by read, as it arrives.
pub fn read_frame<R: BufRead>(
    source: &mut R,
    max_frame_bytes: usize,
) -> Result<Option<Frame>, FrameError> {
    if source.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let mut head = [0u8; HEADER_BYTES];
    source.read_exact(&mut head)?;
    let FrameHead { kind, len, crc } = parse_header(&head, max_frame_bytes)?;
    // Zeroed memory comes from the allocator as fresh pages for a large body (no pass
    // over it); each read then lands in place and is hashed while still in the cache.
    let mut body = vec![0u8; len];
    let mut hasher = crc32fast::Hasher::new();
    let mut filled = 0;
    while filled < len {
        let got = match source.read(&mut body[filled..]) {
            Ok(0) => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&body[filled..filled + got]);
        filled += got;
    }
    if hasher.finalize() != crc {
        return Err(FrameError::BadChecksum);
    }
    Ok(Some(Frame {
        kind,
        body: Bytes::from(body),
    }))
}

/// Starts the thread that receives what `peer` pushes on `stream`: first the bytes
/// `already` read from it, then the rest, until the peer closes it. A frame that is not
/// a batch, or that cannot be read, closes the connection with a logged line naming the
/// peer.
pub fn spawn_receiver(
    stream: TcpStream,
    already: Bytes,
    max_frame_bytes: usize,
    mailbox: Arc<Mailbox>,
    peer: SocketAddr,
) -> std::io::Result<()> {
    stream.set_nonblocking(true)?;
    let source = already.reader().chain(SpinningStream::new(stream));
    std::thread::Builder::new()
        .name("weir-receive".into())
        .spawn(move || {
            let mut source = BufReader::with_capacity(READ_BUFFER_BYTES, source);
            if let Err(e) = receive(&mut source, max_frame_bytes, &mailbox) {
                tracing::warn!("data connection from {peer} closed: {e}");
            }
        })?;
    Ok(())
}

/// A socket read that spins up to [`SPIN`], yielding, before it blocks (the socket stays
/// non-blocking in between).
struct SpinningStream {
    stream: TcpStream,
}

impl SpinningStream {
    fn new(stream: TcpStream) -> Self {
        SpinningStream { stream }
    }
}

impl Read for SpinningStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let start = Instant::now();
        loop {
            match self.stream.read(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                done => return done,
            }
            if start.elapsed() < SPIN {
                std::thread::yield_now();
                continue;
            }
            self.stream.set_nonblocking(false)?;
            let read = self.stream.read(buf);
            self.stream.set_nonblocking(true)?;
            return read;
        }
    }
}

/// Delivers the batches of `source` into `mailbox` until it ends.
fn receive<R: BufRead>(
    source: &mut R,
    max_frame_bytes: usize,
    mailbox: &Mailbox,
) -> Result<(), String> {
    while let Some(frame) = read_frame(source, max_frame_bytes).map_err(|e| e.to_string())? {
        if frame.kind != FrameKind::Message {
            return Err(format!("unexpected {:?} frame on a push link", frame.kind));
        }
        let (header, payload) = BatchHeader::decode(frame.body)?;
        mailbox.deliver(header, payload);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{frame_header, FrameCodec};
    use bytes::BytesMut;
    use std::io::Cursor;
    use tokio_util::codec::Encoder;

    fn encoded(frames: &[Frame]) -> Vec<u8> {
        let mut out = BytesMut::new();
        let mut codec = FrameCodec::default();
        for f in frames {
            codec.encode(f.clone(), &mut out).unwrap();
        }
        out.to_vec()
    }

    #[test]
    fn frames_small_and_large_read_back_whole_and_a_clean_end_is_none() {
        let large: Vec<u8> = (0..3 * READ_BUFFER_BYTES + 17).map(|i| i as u8).collect();
        let frames = [
            Frame::new(FrameKind::Message, Bytes::from_static(b"small")),
            Frame::new(FrameKind::Message, Bytes::from(large)),
            Frame::new(FrameKind::Message, Bytes::new()),
        ];
        let mut source = BufReader::with_capacity(1000, Cursor::new(encoded(&frames)));
        for want in &frames {
            let got = read_frame(&mut source, 1 << 30).unwrap().unwrap();
            assert_eq!((got.kind, &got.body), (want.kind, &want.body));
        }
        assert!(read_frame(&mut source, 1 << 30).unwrap().is_none());
    }

    #[test]
    fn a_flipped_bit_a_cut_frame_garbage_and_an_oversized_body_are_refused() {
        let body: Vec<u8> = (0..READ_BUFFER_BYTES + 5).map(|i| i as u8).collect();
        let good = encoded(&[Frame::new(FrameKind::Message, Bytes::from(body))]);
        let mut flipped = good.clone();
        flipped[HEADER_BYTES + 3] ^= 1;
        let read = |bytes: &[u8], max: usize| read_frame(&mut Cursor::new(bytes.to_vec()), max);
        assert!(matches!(
            read(&flipped, 1 << 30),
            Err(FrameError::BadChecksum)
        ));
        let cut = &good[..good.len() - 1];
        assert!(
            matches!(read(cut, 1 << 30), Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof)
        );
        assert!(matches!(read(&good[..10], 1 << 30), Err(FrameError::Io(_))));
        assert!(matches!(
            read(b"GET / HTTP/1.1\r\n\r\n", 1 << 30),
            Err(FrameError::BadMagic { .. })
        ));
        assert!(matches!(read(&good, 100), Err(FrameError::TooLarge { .. })));
        let mut other_version = frame_header(FrameKind::Message, 0, 0).to_vec();
        other_version[5] ^= 0x40;
        assert!(matches!(
            read(&other_version, 100),
            Err(FrameError::VersionMismatch { .. })
        ));
    }

    #[test]
    fn a_spinning_read_gets_bytes_that_come_at_once_or_after_it_sleeps_and_then_the_end() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        reader.set_nonblocking(true).unwrap();
        let mut reader = SpinningStream::new(reader);
        let sender = std::thread::spawn(move || {
            use std::io::Write;
            writer.write_all(b"now").unwrap();
            std::thread::sleep(SPIN * 20);
            writer.write_all(b"later").unwrap();
        });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        sender.join().unwrap();
        assert_eq!(got, b"nowlater");
    }

    #[test]
    fn a_frame_that_is_not_a_batch_ends_the_link() {
        let mailbox = Mailbox::new();
        let bytes = encoded(&[Frame::new(FrameKind::FetchEnd, Bytes::new())]);
        let refused = receive(&mut Cursor::new(bytes), 1 << 20, &mailbox).unwrap_err();
        assert!(refused.contains("FetchEnd"), "{refused}");
    }
}
