//! Tests of the handshake: success, refusals, and hostile or broken peers.
use super::*;
use crate::frame::framed;
use bytes::BytesMut;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECS: Duration = Duration::from_secs(5);

fn secret(seed: u8) -> Secret {
    Secret::new((0..32).map(|i| i ^ seed).collect())
}

async fn listener() -> (TcpListener, std::net::SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Runs a real driver and a real worker against each other over loopback.
async fn run_pair(
    driver_secret: Secret,
    driver_version: &'static str,
    worker_secret: Secret,
    worker_version: &'static str,
    id: u32,
) -> (Result<(), AuthError>, Result<u32, AuthError>) {
    let (l, addr) = listener().await;
    let driver = tokio::spawn(async move {
        let (sock, _) = l.accept().await.unwrap();
        let mut s = framed(sock);
        accept_worker(&mut s, &driver_secret, driver_version, id, SECS).await
    });
    let mut s = framed(TcpStream::connect(addr).await.unwrap());
    let w = join_driver(&mut s, &worker_secret, worker_version, SECS).await;
    (driver.await.unwrap(), w)
}

#[tokio::test]
async fn matching_secret_and_version_succeed() {
    let (l, addr) = listener().await;
    let driver = tokio::spawn(async move {
        let (sock, _) = l.accept().await.unwrap();
        let mut s = framed(sock);
        accept_worker(&mut s, &secret(1), "0.1.0+abc", 42, SECS)
            .await
            .unwrap();
        // The connection is usable afterwards, with the full frame limit restored.
        assert_eq!(
            s.codec().max_frame_bytes(),
            crate::frame::DEFAULT_MAX_FRAME_BYTES
        );
        let f = s.next().await.unwrap().unwrap();
        assert_eq!(f.kind, FrameKind::Control);
        assert_eq!(f.body.len(), 100_000);
    });
    let mut s = framed(TcpStream::connect(addr).await.unwrap());
    let id = join_driver(&mut s, &secret(1), "0.1.0+abc", SECS)
        .await
        .unwrap();
    assert_eq!(id, 42);
    s.send(Frame::new(FrameKind::Control, vec![1u8; 100_000]))
        .await
        .unwrap();
    driver.await.unwrap();
}

#[tokio::test]
async fn wrong_secret_is_refused_on_both_sides() {
    let (d, w) = run_pair(secret(1), "v", secret(2), "v", 1).await;
    assert!(matches!(d, Err(AuthError::WrongSecret)), "driver: {d:?}");
    match w {
        Err(AuthError::WrongSecret) => {}
        Err(AuthError::Refused(r)) => assert_eq!(r, "wrong secret"),
        other => panic!("worker: {other:?}"),
    }
}

#[tokio::test]
async fn version_mismatch_names_both_versions() {
    let (d, w) = run_pair(secret(1), "0.1.0+abc", secret(1), "0.1.0+def", 1).await;
    for r in [d.map(|_| 0), w] {
        let e = r.unwrap_err();
        assert!(
            matches!(&e, AuthError::VersionMismatch { driver, worker }
                if driver == "0.1.0+abc" && worker == "0.1.0+def"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "version mismatch: driver 0.1.0+abc, worker 0.1.0+def"
        );
    }
}

/// Connects a hand-driven peer to a real driver.
async fn driver_against<F, Fut>(peer: F) -> Result<(), AuthError>
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (l, addr) = listener().await;
    let p = tokio::spawn(async move {
        peer(TcpStream::connect(addr).await.unwrap()).await;
    });
    let (sock, _) = l.accept().await.unwrap();
    let mut s = framed(sock);
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        accept_worker(&mut s, &secret(1), "v", 1, Duration::from_secs(3)),
    )
    .await
    .expect("accept_worker did not respect its own timeout");
    // Hang up first: some peers wait for the connection to close.
    drop(s);
    p.await.unwrap();
    r
}

/// Connects a real worker to a hand-driven driver.
async fn worker_against<F, Fut>(peer: F) -> Result<u32, AuthError>
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (l, addr) = listener().await;
    let p = tokio::spawn(async move {
        let (sock, _) = l.accept().await.unwrap();
        peer(sock).await;
    });
    let mut s = framed(TcpStream::connect(addr).await.unwrap());
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        join_driver(&mut s, &secret(1), "v", Duration::from_secs(3)),
    )
    .await
    .expect("join_driver did not respect its own timeout");
    drop(s);
    p.await.unwrap();
    r
}

fn hello_frame(msg: &Msg) -> Frame {
    Frame::new(FrameKind::Hello, msg.encode())
}

#[tokio::test]
async fn worker_skipping_the_check_is_caught_by_the_driver() {
    // A worker that ignores the driver's proof and answers with a made-up one.
    let refusal = Arc::new(Mutex::new(None));
    let seen = refusal.clone();
    let d = driver_against(move |sock| async move {
        let mut s = framed(sock);
        s.send(hello_frame(&Msg::Hello {
            role: "worker".into(),
            binary_version: "v".into(),
            nonce: [3; 32],
        }))
        .await
        .unwrap();
        let challenge = Msg::decode(&s.next().await.unwrap().unwrap().body).unwrap();
        assert!(matches!(challenge, Msg::Challenge { .. }));
        s.send(hello_frame(&Msg::Response { proof: [9; 32] }))
            .await
            .unwrap();
        let answer = Msg::decode(&s.next().await.unwrap().unwrap().body).unwrap();
        *seen.lock().unwrap() = Some(answer);
    })
    .await;
    assert!(matches!(d, Err(AuthError::WrongSecret)), "{d:?}");
    assert_eq!(
        refusal.lock().unwrap().take(),
        Some(Msg::Refuse {
            code: RefuseCode::WrongSecret,
            reason: "wrong secret".into()
        })
    );
}

#[tokio::test]
async fn replayed_driver_proof_is_not_a_worker_proof() {
    // Reflection: echo the driver's own proof back as the worker's.
    let d = driver_against(|sock| async move {
        let mut s = framed(sock);
        s.send(hello_frame(&Msg::Hello {
            role: "worker".into(),
            binary_version: "v".into(),
            nonce: [3; 32],
        }))
        .await
        .unwrap();
        let proof = match Msg::decode(&s.next().await.unwrap().unwrap().body).unwrap() {
            Msg::Challenge { proof, .. } => proof,
            other => panic!("{other:?}"),
        };
        s.send(hello_frame(&Msg::Response { proof })).await.unwrap();
        let _ = s.next().await;
    })
    .await;
    assert!(matches!(d, Err(AuthError::WrongSecret)), "{d:?}");
}

#[tokio::test]
async fn driver_refuses_a_non_worker_role() {
    let d = driver_against(|sock| async move {
        let mut s = framed(sock);
        s.send(hello_frame(&Msg::Hello {
            role: "driver".into(),
            binary_version: "v".into(),
            nonce: [0; 32],
        }))
        .await
        .unwrap();
        match Msg::decode(&s.next().await.unwrap().unwrap().body).unwrap() {
            Msg::Refuse { code, reason } => {
                assert_eq!(code, RefuseCode::Other);
                assert!(reason.contains("role"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    })
    .await;
    assert!(matches!(d, Err(AuthError::Malformed(_))), "{d:?}");
}

#[tokio::test]
async fn raw_garbage_to_the_driver_is_a_frame_error() {
    let d = driver_against(|mut sock| async move {
        sock.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await.unwrap();
        let mut sink = Vec::new();
        let _ = sock.read_to_end(&mut sink).await;
    })
    .await;
    assert!(
        matches!(d, Err(AuthError::Frame(FrameError::BadMagic { .. }))),
        "{d:?}"
    );
}

#[tokio::test]
async fn garbage_message_body_is_malformed() {
    let d = driver_against(|sock| async move {
        let mut s = framed(sock);
        s.send(Frame::new(FrameKind::Hello, &b"\x01\xff\xffnope"[..]))
            .await
            .unwrap();
        let _ = s.next().await;
    })
    .await;
    assert!(matches!(d, Err(AuthError::Malformed(_))), "{d:?}");
}

#[tokio::test]
async fn wrong_frame_kind_is_malformed() {
    let d = driver_against(|sock| async move {
        let mut s = framed(sock);
        s.send(Frame::new(FrameKind::Control, &b"hi"[..]))
            .await
            .unwrap();
        let _ = s.next().await;
    })
    .await;
    assert!(matches!(d, Err(AuthError::Malformed(_))), "{d:?}");
}

#[tokio::test]
async fn oversized_handshake_frame_is_refused_without_reading_it() {
    let d = driver_against(|sock| async move {
        let mut s = framed(sock);
        // Well under the normal limit, far over the handshake one.
        let _ = s
            .send(Frame::new(FrameKind::Hello, vec![0u8; 1 << 20]))
            .await;
    })
    .await;
    assert!(
        matches!(d, Err(AuthError::Frame(FrameError::TooLarge { .. }))),
        "{d:?}"
    );
}

#[tokio::test]
async fn worker_closing_mid_handshake_is_closed() {
    let d = driver_against(|sock| async move {
        let mut s = framed(sock);
        s.send(hello_frame(&Msg::Hello {
            role: "worker".into(),
            binary_version: "v".into(),
            nonce: [1; 32],
        }))
        .await
        .unwrap();
        let _ = s.next().await; // the challenge; then hang up
    })
    .await;
    assert!(matches!(d, Err(AuthError::Closed)), "{d:?}");
}

#[tokio::test]
async fn worker_closing_mid_frame_is_an_error() {
    let d = driver_against(|mut sock| async move {
        let mut wire = BytesMut::new();
        let mut codec = crate::frame::FrameCodec::default();
        tokio_util::codec::Encoder::encode(
            &mut codec,
            hello_frame(&Msg::Hello {
                role: "worker".into(),
                binary_version: "v".into(),
                nonce: [1; 32],
            }),
            &mut wire,
        )
        .unwrap();
        sock.write_all(&wire[..wire.len() - 5]).await.unwrap();
    })
    .await;
    assert!(
        matches!(d, Err(AuthError::Closed | AuthError::Frame(_))),
        "{d:?}"
    );
}

#[tokio::test]
async fn driver_closing_mid_handshake_is_closed() {
    let w = worker_against(|sock| async move {
        let mut s = framed(sock);
        let _ = s.next().await; // the hello; then hang up
    })
    .await;
    assert!(matches!(w, Err(AuthError::Closed)), "{w:?}");
}

#[tokio::test]
async fn driver_sending_garbage_is_an_error() {
    let w = worker_against(|mut sock| async move {
        let mut buf = [0u8; 64];
        let _ = sock.read(&mut buf).await;
        sock.write_all(&[0xde; 40]).await.unwrap();
        let _ = sock.read(&mut buf).await;
    })
    .await;
    assert!(
        matches!(w, Err(AuthError::Frame(FrameError::BadMagic { .. }))),
        "{w:?}"
    );
}

#[tokio::test]
async fn driver_without_the_secret_gets_no_worker_proof() {
    // An impostor driver answers with a bogus proof; the worker must refuse before it
    // sends a Response.
    let got = Arc::new(Mutex::new(None));
    let seen = got.clone();
    let w = worker_against(move |sock| async move {
        let mut s = framed(sock);
        let _ = s.next().await;
        s.send(hello_frame(&Msg::Challenge {
            binary_version: "v".into(),
            nonce: [5; 32],
            proof: [6; 32],
        }))
        .await
        .unwrap();
        let answer = Msg::decode(&s.next().await.unwrap().unwrap().body).unwrap();
        *seen.lock().unwrap() = Some(answer);
    })
    .await;
    assert!(matches!(w, Err(AuthError::WrongSecret)), "{w:?}");
    assert!(matches!(
        got.lock().unwrap().take(),
        Some(Msg::Refuse {
            code: RefuseCode::WrongSecret,
            ..
        })
    ));
}

#[tokio::test]
async fn silent_worker_times_out() {
    let (l, addr) = listener().await;
    let _peer = TcpStream::connect(addr).await.unwrap();
    let (sock, _) = l.accept().await.unwrap();
    let mut s = framed(sock);
    let start = std::time::Instant::now();
    let r = accept_worker(&mut s, &secret(1), "v", 1, Duration::from_millis(200)).await;
    assert!(matches!(r, Err(AuthError::Timeout)), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(
        s.codec().max_frame_bytes(),
        crate::frame::DEFAULT_MAX_FRAME_BYTES
    );
}

#[tokio::test]
async fn silent_driver_times_out() {
    let (l, addr) = listener().await;
    let mut s = framed(TcpStream::connect(addr).await.unwrap());
    let (_peer, _) = l.accept().await.unwrap();
    let r = join_driver(&mut s, &secret(1), "v", Duration::from_millis(200)).await;
    assert!(matches!(r, Err(AuthError::Timeout)), "{r:?}");
}

/// Copies `from` to `to`, appending everything that passes to `log`.
async fn tap(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    log: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                log.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn secret_never_travels_on_the_wire() {
    let s = Secret::generate();
    let raw = s.0.clone();
    let hex = s.to_hex();

    let (driver_l, driver_addr) = listener().await;
    let (proxy_l, proxy_addr) = listener().await;
    let from_worker = Arc::new(Mutex::new(Vec::new()));
    let from_driver = Arc::new(Mutex::new(Vec::new()));

    let ds = s.clone();
    let driver = tokio::spawn(async move {
        let (sock, _) = driver_l.accept().await.unwrap();
        let mut f = framed(sock);
        accept_worker(&mut f, &ds, "v", 9, SECS).await
    });
    let (fw, fd) = (from_worker.clone(), from_driver.clone());
    let proxy = tokio::spawn(async move {
        let (w, _) = proxy_l.accept().await.unwrap();
        let d = TcpStream::connect(driver_addr).await.unwrap();
        let (wr, ww) = w.into_split();
        let (dr, dw) = d.into_split();
        tokio::join!(tap(wr, dw, fw), tap(dr, ww, fd));
    });

    let mut f = framed(TcpStream::connect(proxy_addr).await.unwrap());
    assert_eq!(join_driver(&mut f, &s, "v", SECS).await.unwrap(), 9);
    driver.await.unwrap().unwrap();
    drop(f);
    proxy.await.unwrap();

    for (who, bytes) in [("worker", from_worker), ("driver", from_driver)] {
        let bytes = bytes.lock().unwrap();
        assert!(bytes.len() > HEADER_LEN, "{who} wrote nothing");
        // Any 8-byte window of the secret would already be a leak.
        for w in raw.windows(8) {
            assert!(!contains(&bytes, w), "{who} leaked secret bytes");
        }
        assert!(!contains(&bytes, hex.as_bytes()), "{who} leaked the hex");
    }
}

const HEADER_LEN: usize = crate::frame::HEADER_BYTES;

#[test]
fn proofs_depend_on_secret_label_and_order() {
    let (a, b) = ([1u8; 32], [2u8; 32]);
    let s = secret(1);
    let p = s.proof(DRIVER_LABEL, &a, &b).unwrap();
    assert!(s.verify(DRIVER_LABEL, &a, &b, &p).is_ok());
    assert!(matches!(
        s.verify(WORKER_LABEL, &a, &b, &p),
        Err(AuthError::WrongSecret)
    ));
    assert!(s.verify(DRIVER_LABEL, &b, &a, &p).is_err());
    assert!(secret(2).verify(DRIVER_LABEL, &a, &b, &p).is_err());
    assert_ne!(p, s.proof(WORKER_LABEL, &a, &b).unwrap());
}

#[test]
fn debug_does_not_show_the_secret() {
    let s = Secret::new(b"hunter2".to_vec());
    assert_eq!(format!("{s:?}"), "Secret(..)");
    assert_eq!(format!("{s:#?}"), "Secret(..)");
}

#[test]
fn generated_secrets_are_32_random_bytes() {
    let a = Secret::generate();
    let b = Secret::generate();
    assert_eq!(a.0.len(), 32);
    assert_ne!(a, b);
}

#[test]
fn hex_round_trips() {
    let s = Secret::new(vec![0x00, 0x0f, 0xa5, 0xff, 0x10]);
    assert_eq!(s.to_hex(), "000fa5ff10");
    assert_eq!(Secret::from_hex("000fa5ff10").unwrap(), s);
    assert_eq!(Secret::from_hex("  000FA5FF10\n").unwrap(), s);
    let g = Secret::generate();
    assert_eq!(Secret::from_hex(&g.to_hex()).unwrap(), g);
}

#[test]
fn bad_hex_is_an_error() {
    for bad in ["", "   ", "abc", "zz", "0g", "é0"] {
        assert!(
            matches!(Secret::from_hex(bad), Err(AuthError::BadSecret(_))),
            "{bad:?}"
        );
    }
    let e = Secret::from_hex("00x0").unwrap_err().to_string();
    assert!(e.contains("position 2"), "{e}");
}

#[test]
fn secret_file_is_trimmed_at_the_end_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, b"  s3cret value \r\n\t\n").unwrap();
    assert_eq!(
        Secret::from_file(&path).unwrap(),
        Secret::new(b"  s3cret value".to_vec())
    );
}

#[test]
fn empty_secret_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blank-secret");
    std::fs::write(&path, b" \n\n").unwrap();
    let e = Secret::from_file(&path).unwrap_err();
    assert!(matches!(&e, AuthError::SecretFile { path: p, .. } if p == &path));
    let msg = e.to_string();
    assert!(
        msg.contains("blank-secret") && msg.contains("empty"),
        "{msg}"
    );
}

#[test]
fn missing_secret_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-file");
    let msg = Secret::from_file(&path).unwrap_err().to_string();
    assert!(msg.contains("no-such-file"), "{msg}");
}
