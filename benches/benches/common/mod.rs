//! What the loopback benchmarks share: [`RawCopy`], a raw TCP copy of the bytes a Weir
//! data path moves, the ceiling any protocol on this host is measured against.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Size of one raw write and of the raw reader's buffer.
pub const CHUNK: usize = 1 << 20;

/// A connected pair of sockets: the bench thread writes, a thread reads and discards.
pub struct RawCopy {
    writer: TcpStream,
    chunk: Vec<u8>,
    done: mpsc::Receiver<()>,
}

impl RawCopy {
    pub fn new(bytes_per_round: u64) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let writer = TcpStream::connect(listener.local_addr()?)?;
        let (mut reader, _) = listener.accept()?;
        writer.set_nodelay(true)?;
        reader.set_nodelay(true)?;
        let (tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("raw-reader".into())
            .spawn(move || {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let mut left = bytes_per_round;
                    while left > 0 {
                        match reader.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => left -= n as u64,
                        }
                    }
                    if tx.send(()).is_err() {
                        return;
                    }
                }
            })?;
        let mut rng = StdRng::seed_from_u64(7);
        let chunk = (0..CHUNK).map(|_| rng.gen::<u8>()).collect();
        Ok(RawCopy {
            writer,
            chunk,
            done,
        })
    }

    /// Copies `bytes` (the same count as at construction) and waits until all were read.
    pub fn round(&mut self, bytes: u64) {
        let mut left = bytes as usize;
        while left > 0 {
            let n = left.min(CHUNK);
            self.writer
                .write_all(&self.chunk[..n])
                .expect("raw TCP write");
            left -= n;
        }
        self.done.recv().expect("raw reader alive");
    }
}
