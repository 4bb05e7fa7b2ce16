//! The handshake's messages and their binary layout: a tag byte, then the fields in
//! order (strings as a big-endian `u16` length and UTF-8 bytes, nonces and proofs as 32
//! raw bytes, ids as big-endian `u32`). A body that does not parse is an
//! [`AuthError::Malformed`].

use bytes::{BufMut, Bytes, BytesMut};

use super::{AuthError, MAX_STRING_BYTES, NONCE_BYTES};

/// Why a side refused; lets the other side report a typed error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefuseCode {
    Other = 0,
    WrongSecret = 1,
    VersionMismatch = 2,
}

impl RefuseCode {
    pub(super) fn from_u8(b: u8) -> Self {
        match b {
            1 => RefuseCode::WrongSecret,
            2 => RefuseCode::VersionMismatch,
            // Unknown codes from a newer peer still carry a readable reason.
            _ => RefuseCode::Other,
        }
    }
}

/// A handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Msg {
    Hello {
        role: String,
        binary_version: String,
        nonce: [u8; NONCE_BYTES],
    },
    Challenge {
        binary_version: String,
        nonce: [u8; NONCE_BYTES],
        proof: [u8; NONCE_BYTES],
    },
    Response {
        proof: [u8; NONCE_BYTES],
    },
    Refuse {
        code: RefuseCode,
        reason: String,
    },
    Accepted {
        worker_id: u32,
    },
}

pub(super) const TAG_HELLO: u8 = 1;
pub(super) const TAG_CHALLENGE: u8 = 2;
pub(super) const TAG_RESPONSE: u8 = 3;
pub(super) const TAG_REFUSE: u8 = 4;
pub(super) const TAG_ACCEPTED: u8 = 5;

impl Msg {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Msg::Hello { .. } => "Hello",
            Msg::Challenge { .. } => "Challenge",
            Msg::Response { .. } => "Response",
            Msg::Refuse { .. } => "Refuse",
            Msg::Accepted { .. } => "Accepted",
        }
    }

    pub(super) fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(128);
        match self {
            Msg::Hello {
                role,
                binary_version,
                nonce,
            } => {
                b.put_u8(TAG_HELLO);
                put_str(&mut b, role);
                put_str(&mut b, binary_version);
                b.put_slice(nonce);
            }
            Msg::Challenge {
                binary_version,
                nonce,
                proof,
            } => {
                b.put_u8(TAG_CHALLENGE);
                put_str(&mut b, binary_version);
                b.put_slice(nonce);
                b.put_slice(proof);
            }
            Msg::Response { proof } => {
                b.put_u8(TAG_RESPONSE);
                b.put_slice(proof);
            }
            Msg::Refuse { code, reason } => {
                b.put_u8(TAG_REFUSE);
                b.put_u8(*code as u8);
                put_str(&mut b, reason);
            }
            Msg::Accepted { worker_id } => {
                b.put_u8(TAG_ACCEPTED);
                b.put_u32(*worker_id);
            }
        }
        b.freeze()
    }

    pub(super) fn decode(body: &[u8]) -> Result<Msg, AuthError> {
        let mut r = Reader { buf: body };
        let msg = match r.u8()? {
            TAG_HELLO => Msg::Hello {
                role: r.string()?,
                binary_version: r.string()?,
                nonce: r.array()?,
            },
            TAG_CHALLENGE => Msg::Challenge {
                binary_version: r.string()?,
                nonce: r.array()?,
                proof: r.array()?,
            },
            TAG_RESPONSE => Msg::Response { proof: r.array()? },
            TAG_REFUSE => Msg::Refuse {
                code: RefuseCode::from_u8(r.u8()?),
                reason: r.string()?,
            },
            TAG_ACCEPTED => Msg::Accepted {
                worker_id: r.u32()?,
            },
            other => return Err(AuthError::Malformed(format!("unknown message tag {other}"))),
        };
        if !r.buf.is_empty() {
            return Err(AuthError::Malformed(format!(
                "{} trailing bytes after {}",
                r.buf.len(),
                msg.name()
            )));
        }
        Ok(msg)
    }
}

fn put_str(b: &mut BytesMut, s: &str) {
    let mut end = s.len().min(MAX_STRING_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = &s[..end];
    // `end` is at most MAX_STRING_BYTES, well within u16.
    b.put_u16(u16::try_from(s.len()).unwrap_or(0));
    b.put_slice(s.as_bytes());
}

/// Cursor over a message body; every read checks the remaining length.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AuthError> {
        if self.buf.len() < n {
            return Err(AuthError::Malformed(format!(
                "message truncated: needed {n} more bytes, had {}",
                self.buf.len()
            )));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, AuthError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, AuthError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn array(&mut self) -> Result<[u8; NONCE_BYTES], AuthError> {
        let mut out = [0u8; NONCE_BYTES];
        out.copy_from_slice(self.take(NONCE_BYTES)?);
        Ok(out)
    }

    fn string(&mut self) -> Result<String, AuthError> {
        let len = self.take(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| AuthError::Malformed("string field is not UTF-8".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let msgs = [
            Msg::Hello {
                role: "worker".into(),
                binary_version: "0.1.0+äbc".into(),
                nonce: [7; 32],
            },
            Msg::Challenge {
                binary_version: String::new(),
                nonce: [1; 32],
                proof: [2; 32],
            },
            Msg::Response { proof: [3; 32] },
            Msg::Refuse {
                code: RefuseCode::VersionMismatch,
                reason: "version mismatch: driver a, worker b".into(),
            },
            Msg::Accepted {
                worker_id: 0xdead_beef,
            },
        ];
        for m in msgs {
            assert_eq!(Msg::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn every_truncation_and_extension_is_malformed() {
        let m = Msg::Challenge {
            binary_version: "0.1.0".into(),
            nonce: [1; 32],
            proof: [2; 32],
        };
        let wire = m.encode();
        for cut in 0..wire.len() {
            assert!(matches!(
                Msg::decode(&wire[..cut]),
                Err(AuthError::Malformed(_))
            ));
        }
        let mut longer = wire.to_vec();
        longer.push(0);
        assert!(matches!(Msg::decode(&longer), Err(AuthError::Malformed(_))));
        assert!(matches!(Msg::decode(&[99]), Err(AuthError::Malformed(_))));
        // Invalid UTF-8 in a string field.
        assert!(matches!(
            Msg::decode(&[TAG_REFUSE, 0, 0, 1, 0xff]),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn random_bodies_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..5000 {
            let len = rng.gen_range(0..120);
            let mut body: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if let Some(first) = body.first_mut() {
                *first = rng.gen_range(0..7);
            }
            let _ = Msg::decode(&body);
        }
    }

    #[test]
    fn unknown_refuse_code_reads_as_other() {
        let body = [TAG_REFUSE, 77, 0, 2, b'n', b'o'];
        assert_eq!(
            Msg::decode(&body).unwrap(),
            Msg::Refuse {
                code: RefuseCode::Other,
                reason: "no".into()
            }
        );
    }

    #[test]
    fn long_strings_are_cut_at_a_char_boundary() {
        let long = "é".repeat(MAX_STRING_BYTES);
        let m = Msg::Refuse {
            code: RefuseCode::Other,
            reason: long,
        };
        match Msg::decode(&m.encode()).unwrap() {
            Msg::Refuse { reason, .. } => {
                assert!(reason.len() <= MAX_STRING_BYTES);
                assert!(reason.chars().all(|c| c == 'é'));
            }
            other => panic!("{other:?}"),
        }
    }
}
