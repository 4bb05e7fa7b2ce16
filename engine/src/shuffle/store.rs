//! The worker's shuffle store: map outputs kept in memory up to a budget, spilled to local
//! disk past it.
//!
//! A map task writes its output through a [`ShuffleWriter`], one reduce partition's blocks at
//! a time; only [`ShuffleWriter::commit`] makes the output visible, so a failed attempt leaves
//! nothing behind, and a retried one replaces the earlier output whole.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::error::TaskError;
use crate::plan::ShuffleId;

/// A stored block: in memory, or a byte range of a spill file.
#[derive(Debug, Clone)]
pub enum StoredBlock {
    Memory(Bytes),
    Disk {
        file: Arc<SpillFile>,
        offset: u64,
        len: u64,
    },
}

impl StoredBlock {
    /// The block's bytes (reads spilled ones from disk).
    pub fn load(&self) -> std::io::Result<Bytes> {
        match self {
            StoredBlock::Memory(b) => Ok(b.clone()),
            StoredBlock::Disk { file, offset, len } => {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0; *len as usize];
                file.handle.read_exact_at(&mut buf, *offset)?;
                Ok(Bytes::from(buf))
            }
        }
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            StoredBlock::Memory(b) => b.len() as u64,
            StoredBlock::Disk { len, .. } => *len,
        }
    }

    /// Whether the block has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A spill file, deleted when the last block referring to it goes.
#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    handle: File,
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One committed map output: blocks per reduce partition.
#[derive(Debug)]
struct MapOutput {
    blocks: Vec<Vec<StoredBlock>>,
    memory_bytes: u64,
}

/// All map outputs held by one worker.
#[derive(Debug)]
pub struct ShuffleStore {
    outputs: Mutex<HashMap<(ShuffleId, usize), MapOutput>>,
    memory_used: AtomicU64,
    memory_budget: u64,
    spill_dir: PathBuf,
    spill_seq: AtomicU64,
}

impl ShuffleStore {
    /// A store keeping up to `memory_budget` bytes in memory and spilling into `spill_dir`.
    pub fn new(memory_budget: u64, spill_dir: PathBuf) -> Arc<Self> {
        Arc::new(ShuffleStore {
            outputs: Mutex::default(),
            memory_used: AtomicU64::new(0),
            memory_budget,
            spill_dir,
            spill_seq: AtomicU64::new(0),
        })
    }

    /// The blocks of `reduce` in map output `(shuffle, map)`, or `None` if this worker does
    /// not hold that output.
    pub fn blocks(
        &self,
        shuffle: ShuffleId,
        map: usize,
        reduce: usize,
    ) -> Option<Vec<StoredBlock>> {
        self.outputs
            .lock()
            .get(&(shuffle, map))
            .map(|o| o.blocks.get(reduce).cloned().unwrap_or_default())
    }

    /// Bytes held in memory.
    pub fn memory_used(&self) -> u64 {
        self.memory_used.load(Ordering::Relaxed)
    }

    /// The shuffles with outputs held here, ascending.
    pub fn shuffle_ids(&self) -> Vec<ShuffleId> {
        let mut ids: Vec<ShuffleId> = self.outputs.lock().keys().map(|k| k.0).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Drops every output of `shuffle`.
    pub fn remove_shuffle(&self, shuffle: ShuffleId) {
        let mut outputs = self.outputs.lock();
        let keys: Vec<_> = outputs.keys().filter(|k| k.0 == shuffle).copied().collect();
        for k in keys {
            if let Some(o) = outputs.remove(&k) {
                self.memory_used
                    .fetch_sub(o.memory_bytes, Ordering::Relaxed);
            }
        }
    }

    fn reserve(&self, bytes: u64) -> bool {
        let mut used = self.memory_used.load(Ordering::Relaxed);
        loop {
            if used + bytes > self.memory_budget {
                return false;
            }
            match self.memory_used.compare_exchange_weak(
                used,
                used + bytes,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => used = now,
            }
        }
    }

    fn release(&self, bytes: u64) {
        self.memory_used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Writes one map task's output.
pub struct ShuffleWriter {
    store: Arc<ShuffleStore>,
    shuffle: ShuffleId,
    map: usize,
    blocks: Vec<Vec<StoredBlock>>,
    memory_bytes: u64,
    spill: Option<(Arc<SpillFile>, std::io::BufWriter<File>, u64)>,
    spilled_bytes: u64,
    committed: bool,
}

impl ShuffleWriter {
    pub(crate) fn new(
        store: Arc<ShuffleStore>,
        shuffle: ShuffleId,
        map: usize,
        reduce_partitions: usize,
    ) -> Self {
        ShuffleWriter {
            store,
            shuffle,
            map,
            blocks: vec![Vec::new(); reduce_partitions],
            memory_bytes: 0,
            spill: None,
            spilled_bytes: 0,
            committed: false,
        }
    }

    /// Number of reduce partitions.
    pub fn reduce_partitions(&self) -> usize {
        self.blocks.len()
    }

    /// Adds a sealed block for reduce partition `reduce`.
    pub fn put(&mut self, reduce: usize, block: Bytes) -> Result<(), TaskError> {
        let len = block.len() as u64;
        if self.store.reserve(len) {
            self.memory_bytes += len;
            self.blocks[reduce].push(StoredBlock::Memory(block));
            return Ok(());
        }
        let spill_err =
            |e: std::io::Error| TaskError::failed(format!("spilling shuffle output to disk: {e}"));
        if self.spill.is_none() {
            std::fs::create_dir_all(&self.store.spill_dir).map_err(spill_err)?;
            let seq = self.store.spill_seq.fetch_add(1, Ordering::Relaxed);
            let path = self.store.spill_dir.join(format!(
                "shuffle-{}-map-{}-{seq}.spill",
                self.shuffle, self.map
            ));
            let handle = File::options()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(spill_err)?;
            let writer =
                std::io::BufWriter::with_capacity(1 << 20, handle.try_clone().map_err(spill_err)?);
            self.spill = Some((Arc::new(SpillFile { path, handle }), writer, 0));
        }
        let (file, writer, offset) = self.spill.as_mut().expect("spill file opened above");
        writer.write_all(&block).map_err(spill_err)?;
        self.blocks[reduce].push(StoredBlock::Disk {
            file: file.clone(),
            offset: *offset,
            len,
        });
        *offset += len;
        self.spilled_bytes += len;
        Ok(())
    }

    /// Bytes that went to disk.
    pub fn spilled_bytes(&self) -> u64 {
        self.spilled_bytes
    }

    /// Makes the output visible; returns the bytes per reduce partition.
    pub fn commit(mut self) -> Result<Vec<u64>, TaskError> {
        if let Some((_, writer, _)) = self.spill.as_mut() {
            writer
                .flush()
                .map_err(|e| TaskError::failed(format!("spilling shuffle output to disk: {e}")))?;
        }
        let sizes = self
            .blocks
            .iter()
            .map(|b| b.iter().map(StoredBlock::len).sum())
            .collect();
        let output = MapOutput {
            blocks: std::mem::take(&mut self.blocks),
            memory_bytes: self.memory_bytes,
        };
        self.committed = true;
        let old = self
            .store
            .outputs
            .lock()
            .insert((self.shuffle, self.map), output);
        if let Some(old) = old {
            self.store.release(old.memory_bytes);
        }
        Ok(sizes)
    }
}

impl Drop for ShuffleWriter {
    fn drop(&mut self) {
        if !self.committed {
            self.store.release(self.memory_bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(n: usize) -> Bytes {
        Bytes::from(vec![7u8; n])
    }

    #[test]
    fn outputs_appear_only_on_commit_and_spill_past_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = ShuffleStore::new(100, dir.path().join("spill"));
        let mut w = ShuffleWriter::new(store.clone(), 0, 3, 2);
        w.put(0, block(60)).unwrap();
        w.put(1, block(60)).unwrap(); // over budget: spilled
        w.put(1, block(10)).unwrap();
        assert!(store.blocks(0, 3, 0).is_none());
        assert_eq!(w.spilled_bytes(), 60);
        let sizes = w.commit().unwrap();
        assert_eq!(sizes, vec![60, 70]);
        let b = store.blocks(0, 3, 1).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].load().unwrap(), block(60));
        assert_eq!(store.memory_used(), 70);
        store.remove_shuffle(0);
        assert_eq!(store.memory_used(), 0);
        assert!(store.blocks(0, 3, 1).is_none());
    }

    #[test]
    fn an_uncommitted_writer_releases_its_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = ShuffleStore::new(1000, dir.path().to_path_buf());
        {
            let mut w = ShuffleWriter::new(store.clone(), 1, 0, 1);
            w.put(0, block(500)).unwrap();
            assert_eq!(store.memory_used(), 500);
        }
        assert_eq!(store.memory_used(), 0);
    }
}
