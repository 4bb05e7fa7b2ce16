//! Malformed traffic on the wire: raw TCP connections send garbage, bad magic numbers,
//! huge lengths, other versions, unknown kinds, bad checksums and nonsense handshakes to a
//! listening driver (which must drop each one and still run the job with a real worker),
//! and a fake driver sends garbage to a worker (which must fail with one clean line).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::util::*;

const MAGIC: u32 = 0x5745_4952;
const VERSION: u16 = 2;
const HELLO: u8 = 1;
const CONTROL: u8 = 2;

/// CRC-32 (IEEE), as the frame header carries it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn header(magic: u32, version: u16, kind: u8, len: u32, crc: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(16);
    h.extend_from_slice(&magic.to_be_bytes());
    h.extend_from_slice(&version.to_be_bytes());
    h.push(kind);
    h.push(0);
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&crc.to_be_bytes());
    h
}

fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut f = header(MAGIC, VERSION, kind, body.len() as u32, crc32(body));
    f.extend_from_slice(body);
    f
}

fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// Every malformed opening a peer might send, by name; `true` when the sender must also
/// close its side before the receiver can know the input is bad (a truncated frame).
fn bad_openings() -> Vec<(&'static str, Vec<u8>, bool)> {
    let mut huge_in_limit = header(MAGIC, VERSION, HELLO, 1 << 20, 0);
    huge_in_limit.extend_from_slice(&noise(100, 1));
    let mut bad_crc = header(MAGIC, VERSION, HELLO, 4, 0x1234_5678);
    bad_crc.extend_from_slice(b"abcd");
    let mut two = frame(HELLO, &noise(40, 2));
    two.extend_from_slice(&frame(HELLO, &noise(40, 3)));
    vec![
        (
            "http request",
            b"GET / HTTP/1.1\r\nHost: weir\r\n\r\n".to_vec(),
            false,
        ),
        (
            "bad magic",
            header(0xDEAD_BEEF, VERSION, HELLO, 0, crc32(b"")),
            false,
        ),
        (
            "huge length",
            header(MAGIC, VERSION, HELLO, u32::MAX, 0),
            false,
        ),
        ("length over the handshake limit", huge_in_limit, false),
        (
            "wrong version",
            header(MAGIC, 99, HELLO, 0, crc32(b"")),
            false,
        ),
        ("version 0", header(MAGIC, 0, CONTROL, 0, crc32(b"")), false),
        (
            "unknown kind",
            header(MAGIC, VERSION, 200, 0, crc32(b"")),
            false,
        ),
        ("bad checksum", bad_crc, false),
        ("garbage hello body", frame(HELLO, &noise(64, 4)), false),
        ("empty hello body", frame(HELLO, b""), false),
        (
            "hello tag with truncated fields",
            frame(HELLO, &[1, 0, 200, b'w']),
            false,
        ),
        (
            "control frame before the handshake",
            frame(CONTROL, &noise(32, 5)),
            false,
        ),
        ("two garbage hellos", two, false),
        ("random bytes", noise(64 << 10, 6), false),
        (
            "truncated header",
            header(MAGIC, VERSION, HELLO, 8, 0)[..10].to_vec(),
            true,
        ),
        (
            "truncated body",
            frame(HELLO, &noise(50, 7))[..40].to_vec(),
            true,
        ),
        ("nothing at all", Vec::new(), true),
    ]
}

/// Sends `bytes` and checks the peer closes the connection within `limit`.
fn send_and_expect_close(addr: &str, name: &str, bytes: &[u8], half_close: bool, limit: Duration) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{name}: connect: {e}"));
    // The peer may hang up before everything is written; that is fine.
    let _ = s.write_all(bytes);
    if half_close {
        let _ = s.shutdown(Shutdown::Write);
    }
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {} // a refusal message before the close
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                assert!(
                    Instant::now() < deadline,
                    "{name}: the peer kept the connection open for {limit:?}"
                );
            }
            Err(_) => return, // reset
        }
    }
}

#[test]
fn driver_drops_malformed_connections_and_still_runs_the_job() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "frames-test-secret").unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let out_dir = tmp.path().join("out");
    let input = samples().join("text");
    let mut driver = Proc::spawn(weir(&[
        "run",
        "wordcount",
        "--input",
        &path_str(&input),
        "--listen",
        &addr,
        "--secret-file",
        &path_str(&secret),
        "--join-workers",
        "1",
        "--join-timeout",
        "90",
        "--quiet",
        "--output",
        &path_str(&out_dir),
    ]));
    driver.wait_for_stderr("listening on", Duration::from_secs(60));

    // A silent connection held open the whole time must not stop others from joining.
    let idle = TcpStream::connect(&addr).unwrap();
    for (name, bytes, half_close) in bad_openings() {
        send_and_expect_close(&addr, name, &bytes, half_close, Duration::from_secs(15));
        assert!(driver.is_running(), "the driver died after: {name}");
    }
    // Many malformed connections at once.
    let burst: Vec<_> = (0..20)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let bytes = noise(1000, 100 + i);
                send_and_expect_close(&addr, "burst", &bytes, false, Duration::from_secs(15));
            })
        })
        .collect();
    for b in burst {
        b.join().unwrap();
    }
    assert!(
        driver.is_running(),
        "the driver died after a burst of garbage"
    );

    let worker = Proc::spawn(weir(&[
        "worker",
        "--join",
        &addr,
        "--secret-file",
        &path_str(&secret),
        "--connect-timeout",
        "20",
    ]));
    let done = driver.wait(TIMEOUT);
    drop(idle);
    done.assert_ok();
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    worker.wait(Duration::from_secs(30)).assert_ok();
    let want = weir::jobs::wordcount::reference(&expand(&input), false).unwrap();
    let got = word_counts(&read_parts(&out_dir));
    assert!(got == want, "word counts differ from the reference");
}

/// A fake driver: accepts one connection from `weir worker`, sends `bytes`, and returns
/// the worker's output.
fn worker_against(bytes: &[u8], close_after: bool) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "s").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let worker = Proc::spawn(weir(&[
        "worker",
        "--join",
        &addr,
        "--secret-file",
        &path_str(&secret),
        "--connect-timeout",
        "20",
    ]));
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("the worker never connected: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    let _ = conn.write_all(bytes);
    if close_after {
        drop(conn);
        return worker.wait(Duration::from_secs(30));
    }
    let out = worker.wait(Duration::from_secs(30));
    drop(conn);
    out
}

#[test]
fn worker_refuses_a_peer_that_is_not_a_driver() {
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("http", b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), false),
        (
            "huge length",
            header(MAGIC, VERSION, HELLO, u32::MAX, 0),
            false,
        ),
        (
            "wrong version",
            header(MAGIC, 7, HELLO, 0, crc32(b"")),
            false,
        ),
        ("garbage challenge", frame(HELLO, &noise(80, 9)), false),
        ("hang-up", Vec::new(), true),
    ];
    for (name, bytes, close) in cases {
        let out = worker_against(&bytes, close);
        let last = out.assert_clean_error().to_string();
        let lines = out.stderr.lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(lines, 1, "{name}: expected one line:\n{}", out.stderr);
        assert!(
            last.contains("driver at 127.0.0.1:"),
            "{name}: should name the driver: {last}"
        );
    }
}
