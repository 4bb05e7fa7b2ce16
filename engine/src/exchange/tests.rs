//! Tests of the push exchange: the header, the mailbox's barrier, and batches pushed
//! between two workers' data servers over loopback.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;

use super::*;
use crate::frame::Frame;
use crate::shuffle::fetch::serve_blocks;
use crate::shuffle::ShuffleStore;

#[test]
fn headers_round_trip_and_garbage_is_refused() {
    let h = BatchHeader {
        channel: 3,
        tag: u64::MAX,
        from: 7,
        to: 11,
        kind: BatchKind::Flush,
    };
    let (back, payload) = BatchHeader::decode(h.encode(b"abc")).unwrap();
    assert_eq!((back, &payload[..]), (h, &b"abc"[..]));
    assert!(BatchHeader::decode(Bytes::from_static(&[1, 2, 3])).is_err());
    let mut bad = h.encode(b"").to_vec();
    bad[24] = 9;
    assert!(BatchHeader::decode(Bytes::from(bad)).is_err());
}

fn batch(from: WorkerId, tag: u64, to: u32) -> BatchHeader {
    BatchHeader {
        channel: 1,
        tag,
        from,
        to,
        kind: BatchKind::Batch,
    }
}

fn flush(from: WorkerId, tag: u64) -> BatchHeader {
    BatchHeader {
        kind: BatchKind::Flush,
        to: 0,
        ..batch(from, tag, 0)
    }
}

#[test]
fn a_subscribed_target_gets_its_batches_in_arrival_order_until_unsubscribed() {
    let mailbox = Mailbox::new();
    let queue = mailbox.subscribe(1, 5);
    mailbox.deliver(batch(0, 9, 5), Bytes::from_static(b"first"));
    mailbox.deliver(batch(1, 2, 5), Bytes::from_static(b"second"));
    mailbox.deliver(batch(1, 2, 6), Bytes::from_static(b"kept"));
    let got: Vec<_> = queue
        .try_iter()
        .map(|d| (d.header.tag, d.payload))
        .collect();
    assert_eq!(
        got,
        vec![
            (9, Bytes::from_static(b"first")),
            (2, Bytes::from_static(b"second"))
        ]
    );
    assert_eq!(mailbox.take(1, 2, 6), vec![Bytes::from_static(b"kept")]);
    mailbox.unsubscribe(1, 5);
    assert!(
        queue.recv().is_err(),
        "the queue ends with its subscription"
    );
    mailbox.deliver(batch(0, 3, 5), Bytes::from_static(b"later"));
    assert_eq!(mailbox.take(1, 3, 5).len(), 1);
    let again = mailbox.subscribe(1, 5);
    mailbox.drop_channel(1);
    assert!(
        again.recv().is_err(),
        "dropping the channel ends its queues"
    );
}

#[test]
fn a_retained_channel_keeps_each_targets_latest_tags() {
    let mailbox = Mailbox::new();
    mailbox.retain_latest(1, 2);
    for tag in [4, 1, 7, 9] {
        mailbox.deliver(batch(0, tag, 3), Bytes::from_static(b"s"));
    }
    mailbox.deliver(batch(0, 2, 5), Bytes::from_static(b"s"));
    assert_eq!(mailbox.held_tags(1, |_| true), vec![(3, 7), (3, 9), (5, 2)]);
    assert_eq!(mailbox.held_tags(1, |t| t == 5), vec![(5, 2)]);
}

#[test]
fn a_tag_is_complete_when_every_sender_flushed_it() {
    let mailbox = Mailbox::new();
    mailbox.deliver(batch(1, 5, 0), Bytes::from_static(b"a"));
    mailbox.deliver(batch(2, 5, 0), Bytes::from_static(b"b"));
    mailbox.deliver(batch(2, 6, 0), Bytes::from_static(b"next step"));
    mailbox.deliver(flush(1, 5), Bytes::new());
    let short = Duration::from_millis(30);
    let err = mailbox.wait_flushed(1, 5, &[1, 2], short).unwrap_err();
    assert!(err.to_string().contains("[2]"), "{err}");
    mailbox.deliver(flush(2, 5), Bytes::new());
    mailbox.wait_flushed(1, 5, &[1, 2], short).unwrap();
    assert_eq!(
        mailbox.take(1, 5, 0),
        vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
    );
    assert!(mailbox.take(1, 5, 0).is_empty());
    assert_eq!(mailbox.bytes_held(), 9);
    mailbox.drop_channel(1);
    assert_eq!(mailbox.bytes_held(), 0);
    mailbox.close("over");
    assert!(matches!(
        mailbox.wait_flushed(1, 6, &[2], Duration::from_secs(5)),
        Err(TaskError::Cancelled(_))
    ));
}

/// A worker's data server (shuffle blocks and pushed batches) on loopback.
struct Peer {
    id: WorkerId,
    address: String,
    mailbox: Arc<Mailbox>,
    _spill: tempfile::TempDir,
}

fn start_peer(runtime: &tokio::runtime::Runtime, secret: &Arc<Secret>, id: WorkerId) -> Peer {
    let spill = tempfile::tempdir().unwrap();
    let store = ShuffleStore::new(1 << 20, spill.path().to_path_buf());
    let mailbox = Mailbox::new();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap().to_string();
    runtime.spawn(serve_blocks(
        listener,
        store,
        mailbox.clone(),
        secret.clone(),
        id,
    ));
    Peer {
        id,
        address,
        mailbox,
        _spill: spill,
    }
}

#[test]
fn batches_cross_over_loopback_in_order_and_flush_behind_them() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let secret = Arc::new(Secret::new(b"exchange test".to_vec()));
    let a = start_peer(&runtime, &secret, 1);
    let b = start_peer(&runtime, &secret, 2);
    let network = Network {
        runtime: runtime.handle().clone(),
        secret: secret.clone(),
    };
    let pusher = Pusher::new(Some(network), a.id, a.mailbox.clone());
    let peers = vec![(a.id, a.address.clone()), (b.id, b.address.clone())];
    // Many batches to both peers, one local: nothing is lost, each target's in order.
    let sent: Vec<Vec<u8>> = (0..1000u32)
        .map(|i| (0..(i % 50)).map(|j| (i + j) as u8).collect())
        .collect();
    for (i, payload) in sent.iter().enumerate() {
        let (peer, address) = &peers[i % 2];
        pusher
            .send(*peer, address, 1, 4, (i % 3) as u32, payload.clone())
            .unwrap();
    }
    pusher.flush(&peers, 1, 4).unwrap();
    for (k, peer) in [&a, &b].into_iter().enumerate() {
        peer.mailbox
            .wait_flushed(1, 4, &[a.id], Duration::from_secs(10))
            .unwrap();
        for to in 0..3u32 {
            let want: Vec<&Vec<u8>> = sent
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 2 == k && (i % 3) as u32 == to)
                .map(|(_, p)| p)
                .collect();
            let got = peer.mailbox.take(1, 4, to);
            assert_eq!(got.len(), want.len());
            assert!(got.iter().zip(want).all(|(g, w)| g[..] == w[..]));
        }
    }
}

#[test]
fn a_malformed_message_closes_the_connection() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let secret = Arc::new(Secret::new(b"exchange test".to_vec()));
    let b = start_peer(&runtime, &secret, 2);
    let closed = runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(&b.address).await.unwrap();
        let mut conn = framed(stream);
        join_driver(
            &mut conn,
            &secret,
            &binary_version(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        conn.send(Frame::new(FrameKind::Message, Bytes::from_static(b"short")))
            .await
            .unwrap();
        use futures::StreamExt;
        tokio::time::timeout(Duration::from_secs(5), conn.next()).await
    });
    assert!(matches!(closed, Ok(None) | Ok(Some(Err(_)))), "{closed:?}");
    assert_eq!(b.mailbox.bytes_held(), 0);
}
