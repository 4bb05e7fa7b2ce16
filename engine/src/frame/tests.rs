//! Tests of the wire format: success, refusals, and hostile or broken peers.
use super::*;
use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ALL_KINDS: [FrameKind; 7] = [
    FrameKind::Hello,
    FrameKind::Control,
    FrameKind::FetchRequest,
    FrameKind::FetchBlock,
    FrameKind::FetchEnd,
    FrameKind::FetchError,
    FrameKind::Message,
];

fn random_frames(rng: &mut StdRng, count: usize, max_len: usize) -> Vec<Frame> {
    (0..count)
        .map(|_| {
            let kind = ALL_KINDS[rng.gen_range(0..ALL_KINDS.len())];
            let len = rng.gen_range(0..=max_len);
            let body: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            Frame::new(kind, body)
        })
        .collect()
}

fn encode_all(frames: &[Frame]) -> BytesMut {
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    for f in frames {
        codec.encode(f.clone(), &mut buf).expect("encode");
    }
    buf
}

fn encode_one(frame: Frame) -> BytesMut {
    encode_all(&[frame])
}

/// Decodes everything currently decodable from `buf`.
fn drain(codec: &mut FrameCodec, buf: &mut BytesMut, out: &mut Vec<Frame>) {
    while let Some(f) = codec.decode(buf).expect("decode") {
        out.push(f);
    }
}

#[test]
fn kind_round_trips_through_u8() {
    for kind in ALL_KINDS {
        assert_eq!(FrameKind::try_from(kind as u8).unwrap(), kind);
    }
    for bad in [0u8, 8, 200, 255] {
        assert!(matches!(
            FrameKind::try_from(bad),
            Err(FrameError::UnknownKind(b)) if b == bad
        ));
    }
}

#[test]
fn header_layout_is_as_documented() {
    let buf = encode_one(Frame::new(FrameKind::FetchBlock, &b"abc"[..]));
    assert_eq!(buf.len(), HEADER_BYTES + 3);
    assert_eq!(&buf[0..4], b"WEIR");
    assert_eq!(&buf[4..6], &WIRE_VERSION.to_be_bytes());
    assert_eq!(buf[6], 4);
    assert_eq!(buf[7], 0);
    assert_eq!(&buf[8..12], &[0, 0, 0, 3]);
    assert_eq!(&buf[12..16], &crc32fast::hash(b"abc").to_be_bytes());
    assert_eq!(&buf[16..], b"abc");
}

#[test]
fn many_frames_round_trip_in_one_buffer() {
    let mut rng = StdRng::seed_from_u64(1);
    let frames = random_frames(&mut rng, 300, 4000);
    let mut buf = encode_all(&frames);
    let mut codec = FrameCodec::default();
    let mut out = Vec::new();
    drain(&mut codec, &mut buf, &mut out);
    assert_eq!(out, frames);
    assert!(buf.is_empty());
}

#[test]
fn round_trip_split_at_every_byte_boundary() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut frames = random_frames(&mut rng, 40, 200);
    frames.push(Frame::new(FrameKind::FetchEnd, Bytes::new()));
    let wire = encode_all(&frames).freeze();
    for split in 0..=wire.len() {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::from(&wire[..split]);
        let mut out = Vec::new();
        drain(&mut codec, &mut buf, &mut out);
        buf.extend_from_slice(&wire[split..]);
        drain(&mut codec, &mut buf, &mut out);
        assert_eq!(out, frames, "split at byte {split}");
        assert!(buf.is_empty());
    }
}

#[test]
fn round_trip_one_byte_at_a_time() {
    let mut rng = StdRng::seed_from_u64(3);
    let frames = random_frames(&mut rng, 50, 300);
    let wire = encode_all(&frames).freeze();
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for byte in wire.iter() {
        buf.put_u8(*byte);
        drain(&mut codec, &mut buf, &mut out);
    }
    assert_eq!(out, frames);
}

#[test]
fn large_bodies_arrive_eight_byte_aligned_whatever_came_before() {
    let mut rng = StdRng::seed_from_u64(4);
    let large = |len: usize| {
        Frame::new(
            FrameKind::Message,
            (0..len).map(|i| i as u8).collect::<Vec<u8>>(),
        )
    };
    // Small frames of odd lengths between the large ones leave the stream misaligned.
    let mut frames = Vec::new();
    for len in [
        ALIGNED_BODY_BYTES,
        ALIGNED_BODY_BYTES + 3,
        3 * ALIGNED_BODY_BYTES + 1,
    ] {
        frames.extend(random_frames(&mut rng, 3, 7));
        frames.push(large(len));
    }
    let wire = encode_all(&frames).freeze();
    let mut codec = FrameCodec::default();
    // A buffer with room for everything, starting off alignment: growing it never moves
    // the bytes, so only the decoder can align a body.
    let mut buf = BytesMut::with_capacity(wire.len() + 16);
    buf.put_bytes(0, 8 - buf.as_ptr() as usize % 8 + 3);
    buf.advance(buf.len());
    let mut out = Vec::new();
    for piece in wire.chunks(5_000) {
        buf.extend_from_slice(piece);
        drain(&mut codec, &mut buf, &mut out);
    }
    assert_eq!(out, frames);
    for frame in out.iter().filter(|f| f.body.len() >= ALIGNED_BODY_BYTES) {
        assert_eq!(
            frame.body.as_ptr() as usize % 8,
            0,
            "{} bytes",
            frame.body.len()
        );
    }
}

#[test]
fn bad_magic_is_refused_after_four_bytes() {
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..3]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    buf.put_u8(b' ');
    match codec.decode(&mut buf) {
        Err(FrameError::BadMagic { found }) => assert_eq!(found, 0x4745_5420),
        other => panic!("expected BadMagic, got {other:?}"),
    }
}

#[test]
fn bad_magic_message_names_the_number() {
    let e = FrameError::BadMagic { found: 0x1234 };
    assert_eq!(
        e.to_string(),
        "bad magic number 0x00001234 (not a Weir peer?)"
    );
}

#[test]
fn other_version_is_refused_before_the_header_completes() {
    let mut buf = encode_one(Frame::new(FrameKind::Control, &b"hi"[..]));
    buf[4..6].copy_from_slice(&7u16.to_be_bytes());
    let mut partial = BytesMut::from(&buf[..6]);
    match FrameCodec::default().decode(&mut partial) {
        Err(FrameError::VersionMismatch { ours, theirs }) => {
            assert_eq!((ours, theirs), (WIRE_VERSION, 7));
        }
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
}

#[test]
fn unknown_kind_is_refused() {
    let mut buf = encode_one(Frame::new(FrameKind::Control, &b"hi"[..]));
    buf[6] = 99;
    assert!(matches!(
        FrameCodec::default().decode(&mut buf),
        Err(FrameError::UnknownKind(99))
    ));
}

#[test]
fn too_large_is_refused_from_the_header_alone() {
    let mut codec = FrameCodec::new(1024);
    // A header announcing 4 GiB - 1 with no body at all.
    let mut buf = BytesMut::new();
    buf.put_u32(MAGIC);
    buf.put_u16(WIRE_VERSION);
    buf.put_u8(FrameKind::FetchBlock as u8);
    buf.put_u8(0);
    buf.put_u32(u32::MAX);
    buf.put_u32(0);
    match codec.decode(&mut buf) {
        Err(FrameError::TooLarge { len, max }) => {
            assert_eq!(len, u32::MAX as usize);
            assert_eq!(max, 1024);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn limit_is_inclusive() {
    let mut codec = FrameCodec::new(8);
    let mut buf = BytesMut::new();
    codec
        .encode(Frame::new(FrameKind::Message, vec![1u8; 8]), &mut buf)
        .unwrap();
    assert_eq!(codec.decode(&mut buf).unwrap().unwrap().body.len(), 8);
    let err = codec
        .encode(Frame::new(FrameKind::Message, vec![1u8; 9]), &mut buf)
        .unwrap_err();
    assert!(matches!(err, FrameError::TooLarge { len: 9, max: 8 }));
    assert!(buf.is_empty(), "a refused frame must not write anything");
}

#[test]
fn decoder_refuses_what_a_larger_encoder_wrote() {
    let mut buf = encode_one(Frame::new(FrameKind::Message, vec![0u8; 100]));
    let mut small = FrameCodec::new(99);
    assert!(matches!(
        small.decode(&mut buf),
        Err(FrameError::TooLarge { len: 100, max: 99 })
    ));
}

#[test]
fn set_max_frame_bytes_changes_the_limit() {
    let mut codec = FrameCodec::default();
    assert_eq!(codec.max_frame_bytes(), DEFAULT_MAX_FRAME_BYTES);
    codec.set_max_frame_bytes(4);
    assert_eq!(codec.max_frame_bytes(), 4);
    let mut buf = encode_one(Frame::new(FrameKind::Message, vec![0u8; 5]));
    assert!(matches!(
        codec.decode(&mut buf),
        Err(FrameError::TooLarge { .. })
    ));
    codec.set_max_frame_bytes(usize::MAX);
    assert_eq!(codec.max_frame_bytes(), u32::MAX as usize);
}

#[test]
fn flipped_body_bit_is_a_checksum_error() {
    let body: Vec<u8> = (0..64u8).collect();
    let clean = encode_one(Frame::new(FrameKind::FetchBlock, body));
    for bit in 0..64 * 8 {
        let mut buf = clean.clone();
        buf[HEADER_BYTES + bit / 8] ^= 1 << (bit % 8);
        assert!(
            matches!(
                FrameCodec::default().decode(&mut buf),
                Err(FrameError::BadChecksum)
            ),
            "bit {bit}"
        );
    }
}

#[test]
fn a_flipped_bit_in_a_part_hashed_before_the_rest_arrived_is_a_checksum_error() {
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let clean = encode_one(Frame::new(FrameKind::Message, body));
    for flipped in [HEADER_BYTES, HEADER_BYTES + 70_000, clean.len() - 1] {
        let mut wire = clean.clone();
        wire[flipped] ^= 0x10;
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::new();
        let mut outcome = Ok(None);
        for piece in wire.chunks(65_536) {
            buf.extend_from_slice(piece);
            outcome = codec.decode(&mut buf);
        }
        assert!(
            matches!(outcome, Err(FrameError::BadChecksum)),
            "byte {flipped}"
        );
        // The clean frame after it, fed to the same codec in pieces, decodes.
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for piece in clean.chunks(65_536).chain(clean.chunks(100_000)) {
            buf.extend_from_slice(piece);
            drain(&mut codec, &mut buf, &mut frames);
        }
        assert_eq!(frames.len(), 2);
    }
}

#[test]
fn flipped_checksum_field_is_a_checksum_error() {
    let mut buf = encode_one(Frame::new(FrameKind::FetchBlock, &b"payload"[..]));
    buf[13] ^= 0x40;
    assert!(matches!(
        FrameCodec::default().decode(&mut buf),
        Err(FrameError::BadChecksum)
    ));
}

#[test]
fn truncated_frame_waits_then_eof_is_an_error() {
    let wire = encode_one(Frame::new(FrameKind::Control, vec![9u8; 50]));
    let mut buf = BytesMut::from(&wire[..wire.len() - 1]);
    let mut codec = FrameCodec::default();
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(matches!(codec.decode_eof(&mut buf), Err(FrameError::Io(_))));
}

/// Feeds `bytes` to a fresh codec in random chunks until it errors or runs dry; the
/// only requirement is that it never panics and never yields more than was fed.
fn feed(rng: &mut StdRng, bytes: &[u8], max: usize) {
    let mut codec = FrameCodec::new(max);
    let mut buf = BytesMut::new();
    let mut pos = 0;
    let mut yielded = 0;
    while pos < bytes.len() {
        let step = rng.gen_range(1..=bytes.len() - pos);
        buf.extend_from_slice(&bytes[pos..pos + step]);
        pos += step;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(f)) => yielded += HEADER_BYTES + f.body.len(),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = codec.decode_eof(&mut buf);
    assert!(yielded <= bytes.len());
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..2000 {
        let len = rng.gen_range(0..300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        feed(&mut rng, &bytes, 256);
    }
}

#[test]
fn garbage_behind_a_valid_prefix_never_panics() {
    // Pure random bytes almost always die at the magic number; start from valid
    // frames and corrupt them so the later checks get exercised too.
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..2000 {
        let frames = random_frames(&mut rng, 3, 64);
        let mut bytes = encode_all(&frames).to_vec();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..bytes.len());
            bytes[at] = rng.gen();
        }
        if rng.gen_bool(0.3) {
            let cut = rng.gen_range(0..=bytes.len());
            bytes.truncate(cut);
        }
        let max = rng.gen_range(0..128);
        feed(&mut rng, &bytes, max);
    }
}

#[tokio::test]
async fn frames_travel_over_loopback_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut rng = StdRng::seed_from_u64(6);
    let mut frames = random_frames(&mut rng, 100, 10_000);
    frames.push(Frame::new(FrameKind::FetchBlock, vec![7u8; 3 << 20]));
    frames.push(Frame::new(FrameKind::FetchEnd, Bytes::new()));

    let expected = frames.clone();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut conn = framed(sock);
        let mut got = Vec::new();
        while let Some(f) = conn.next().await {
            let f = f.unwrap();
            // Echo each frame back so both directions are exercised.
            conn.send(f.clone()).await.unwrap();
            got.push(f);
            if got.len() == expected.len() {
                break;
            }
        }
        assert_eq!(got, expected);
    });

    let mut conn = framed(TcpStream::connect(addr).await.unwrap());
    assert!(conn.get_ref().nodelay().unwrap());
    let sender = {
        let frames = frames.clone();
        async move {
            let mut echoed = Vec::new();
            for f in frames {
                conn.send(f).await.unwrap();
                echoed.push(conn.next().await.unwrap().unwrap());
            }
            // The server hangs up after the last frame: a clean end of stream.
            assert!(conn.next().await.is_none());
            echoed
        }
    };
    let echoed = sender.await;
    server.await.unwrap();
    assert_eq!(echoed, frames);
}

#[tokio::test]
async fn garbage_over_tcp_is_an_error_not_a_hang() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let mut sock = TcpStream::connect(addr).await.unwrap();
        sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        sock
    });
    let (sock, _) = listener.accept().await.unwrap();
    let mut conn = framed(sock);
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), conn.next())
        .await
        .expect("decoder hung on garbage");
    assert!(matches!(got, Some(Err(FrameError::BadMagic { .. }))));
    drop(client.await.unwrap());
}
