//! Output kept for one pipeline while nobody receives it: whole PSRP messages in a bounded FIFO
//! with the `Block` / `Drop` policy of MS-WSMV `BufferMode` (SPEC A1 "OutputBufferingMode").
//!
//! Items are kept whole (a message is never cut here: fragmentation happens when a Receive takes
//! it), so `Drop` discards whole oldest messages and the client's defragmenter never sees a
//! half object. The queue only stores and drains; the pipeline thread decides what to do when
//! [`OutputQueue::push`] hands an item back (wait until a Receive drains).

use std::collections::VecDeque;

pub use crate::service::buffer::BufferPolicy;

/// A bounded FIFO of items with a byte size each.
#[derive(Debug, Clone)]
pub struct OutputQueue<T> {
    policy: BufferPolicy,
    capacity: usize,
    items: VecDeque<(T, usize)>,
    bytes: usize,
    dropped_items: u64,
    dropped_bytes: u64,
}

impl<T> OutputQueue<T> {
    /// An empty queue holding at most `capacity` bytes. A single item larger than the capacity
    /// is still accepted into an empty queue, so a writer can never wait forever.
    pub fn new(policy: BufferPolicy, capacity: usize) -> Self {
        Self {
            policy,
            capacity: capacity.max(1),
            items: VecDeque::new(),
            bytes: 0,
            dropped_items: 0,
            dropped_bytes: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> BufferPolicy {
        self.policy
    }

    /// Changes the policy (Disconnect / Reconnect with a `BufferMode`).
    pub fn set_policy(&mut self, policy: BufferPolicy) {
        self.policy = policy;
    }

    /// The capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Items discarded so far by the `Drop` policy.
    pub fn dropped_items(&self) -> u64 {
        self.dropped_items
    }

    /// Bytes discarded so far by the `Drop` policy.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped_bytes
    }

    /// Whether an item of `size` bytes would be stored now without discarding anything.
    pub fn fits(&self, size: usize) -> bool {
        self.items.is_empty() || self.bytes.saturating_add(size) <= self.capacity
    }

    /// Appends `item` of `size` bytes. `Block`: when it does not fit the item is handed back
    /// (`Err`) and nothing changes. `Drop`: the oldest items are discarded until it fits.
    ///
    /// # Errors
    ///
    /// The item itself when the queue is full in `Block` mode.
    pub fn push(&mut self, item: T, size: usize) -> Result<(), T> {
        if !self.fits(size) {
            match self.policy {
                BufferPolicy::Block => return Err(item),
                BufferPolicy::Drop => {
                    while !self.items.is_empty() && !self.fits(size) {
                        if let Some((_, old)) = self.items.pop_front() {
                            self.bytes -= old;
                            self.dropped_items += 1;
                            self.dropped_bytes += old as u64;
                        }
                    }
                }
            }
        }
        self.bytes += size;
        self.items.push_back((item, size));
        Ok(())
    }

    /// Takes the oldest item.
    pub fn pop(&mut self) -> Option<T> {
        let (item, size) = self.items.pop_front()?;
        self.bytes -= size;
        Some(item)
    }

    /// Takes the oldest items while their total size stays within `max_bytes` (at least one
    /// item when any is held, so an item larger than `max_bytes` still moves).
    pub fn drain(&mut self, max_bytes: usize) -> Vec<T> {
        let mut out = Vec::new();
        let mut used = 0usize;
        while let Some((_, size)) = self.items.front() {
            if !out.is_empty() && used.saturating_add(*size) > max_bytes {
                break;
            }
            used = used.saturating_add(*size);
            if let Some(item) = self.pop() {
                out.push(item);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_hands_the_item_back_when_full_and_loses_nothing() {
        let mut q = OutputQueue::new(BufferPolicy::Block, 10);
        assert!(q.push("a", 6).is_ok());
        assert!(q.push("b", 4).is_ok());
        assert_eq!(q.push("c", 1), Err("c"));
        assert_eq!(q.bytes(), 10);
        assert_eq!(q.pop(), Some("a"));
        assert!(q.push("c", 1).is_ok());
        assert_eq!(q.drain(100), vec!["b", "c"]);
        assert_eq!(q.dropped_items(), 0);
        assert!(q.is_empty());
    }

    #[test]
    fn drop_discards_the_oldest_whole_items() {
        let mut q = OutputQueue::new(BufferPolicy::Drop, 10);
        for (i, item) in ["m0", "m1", "m2", "m3", "m4"].into_iter().enumerate() {
            assert!(q.push(item, 3).is_ok(), "push {i}");
        }
        // 5 items of 3 bytes in 10 bytes: the first two went.
        assert_eq!(q.dropped_items(), 2);
        assert_eq!(q.dropped_bytes(), 6);
        assert_eq!(q.drain(usize::MAX), vec!["m2", "m3", "m4"]);
    }

    #[test]
    fn an_oversized_item_enters_an_empty_queue_only() {
        let mut q = OutputQueue::new(BufferPolicy::Block, 4);
        assert!(q.push(1, 50).is_ok());
        assert_eq!(q.push(2, 1), Err(2));
        let mut d = OutputQueue::new(BufferPolicy::Drop, 4);
        assert!(d.push(1, 2).is_ok());
        assert!(d.push(2, 50).is_ok());
        assert_eq!(d.dropped_items(), 1);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn drain_respects_the_byte_budget_but_always_moves_one() {
        let mut q = OutputQueue::new(BufferPolicy::Block, 100);
        for i in 0..5 {
            assert!(q.push(i, 10).is_ok());
        }
        assert_eq!(q.drain(25), vec![0, 1]);
        assert_eq!(q.drain(5), vec![2]);
        assert_eq!(q.drain(0), vec![3]);
        assert_eq!(q.bytes(), 10);
    }

    #[test]
    fn switching_policy_changes_what_a_full_push_does() {
        let mut q = OutputQueue::new(BufferPolicy::Block, 4);
        assert!(q.push('a', 4).is_ok());
        assert_eq!(q.push('b', 4), Err('b'));
        q.set_policy(BufferPolicy::Drop);
        assert!(q.push('b', 4).is_ok());
        assert_eq!(q.drain(10), vec!['b']);
        assert_eq!(q.policy(), BufferPolicy::Drop);
        assert_eq!(q.capacity(), 4);
    }
}
