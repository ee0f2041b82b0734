//! The memory that parsing takes, estimated before dicom-rs runs, and one budget for it shared
//! by every worker of the process.
//!
//! dicom-rs holds a parsed data set as a tree of maps: measured on dicom-rs 0.10, every element
//! costs about 220 bytes besides its value, every sequence item about 1.3 kB as soon as it
//! holds an element (a map node), and every part of a multi-valued text value about 40 bytes.
//! A file made of nothing but tiny elements in tiny items therefore takes some 75 times its
//! size once parsed: an 8 MB file, 600 MB. The scan ([`crate::scan`]) walks every element
//! header before the parser runs and counts what the parser will build ([`ParseCost`]); a
//! worker then takes that many bytes from the shared [`Budget`] before parsing and gives them
//! back when it drops the parsed object, so that however many workers run and whatever the
//! files hold, what they parse at once stays within the budget. A file that alone needs more
//! than the whole budget is refused with the reason ([`OverBudget`]); the budget can be raised
//! for a run that must read such a file (a segmentation with tens of thousands of frames has
//! a header of that order) with `DEPOT_PARSE_MEMORY_MB`.
//!
//! The budget covers what parsing builds, repaired copies of files and, where a file is
//! written out again, its encoded copy. The bytes of the files themselves are bounded apart:
//! each worker holds one file of at most [`crate::import::IN_MEMORY_LIMIT`] bytes (bigger
//! files are streamed, and only their header is parsed).

use std::sync::{Condvar, Mutex, OnceLock};

/// Bytes the parser takes per element, besides its value (measured: 217 to 225 bytes with
/// dicom-rs 0.10, plus the allocator's own overhead).
pub const PER_ELEMENT: u64 = 256;

/// Bytes per sequence item (measured: 42 bytes for an empty item, 1,338 for an item holding one
/// element: the first node of its map).
pub const PER_ITEM: u64 = 1_408;

/// Bytes per part of a multi-valued text value (a `String` of 24 bytes and its allocation;
/// measured 24 to 38 bytes).
pub const PER_TEXT_PART: u64 = 48;

/// The budget when `DEPOT_PARSE_MEMORY_MB` does not say otherwise: 160 MiB.
pub const DEFAULT_BUDGET: u64 = 160 << 20;

/// What parsing (part of) a data set builds, counted by the scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseCost {
    /// Elements, sequences included, items and delimiters not.
    pub elements: u64,
    /// Sequence items.
    pub items: u64,
    /// Bytes of values (pixel data and other binary values are held as they are).
    pub value_bytes: u64,
    /// Parts of multi-valued text values beyond the first of each value.
    pub text_parts: u64,
}

impl ParseCost {
    /// The estimated bytes the parsed object takes.
    pub fn bytes(&self) -> u64 {
        self.elements
            .saturating_mul(PER_ELEMENT)
            .saturating_add(self.items.saturating_mul(PER_ITEM))
            .saturating_add(self.value_bytes)
            .saturating_add(self.text_parts.saturating_mul(PER_TEXT_PART))
    }
}

/// A file needs more memory than the whole budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "parsing it would take about {} MB of memory ({what}), more than the {} MB that depot allows (hostile or absurd structure; raise DEPOT_PARSE_MEMORY_MB to read it anyway)",
    needed.div_ceil(1 << 20),
    budget >> 20
)]
pub struct OverBudget {
    /// The estimate.
    pub needed: u64,
    /// The budget.
    pub budget: u64,
    /// What the file holds, in words.
    pub what: String,
}

/// Bytes shared by the workers of a process (a counting semaphore).
#[derive(Debug)]
pub struct Budget {
    total: u64,
    free: Mutex<u64>,
    returned: Condvar,
}

/// Bytes taken from a [`Budget`]; given back when dropped.
#[derive(Debug)]
#[must_use = "the bytes are given back as soon as the permit is dropped"]
pub struct Permit<'a> {
    budget: &'a Budget,
    bytes: u64,
}

impl Budget {
    /// A budget of `total` bytes.
    pub fn new(total: u64) -> Budget {
        Budget {
            total,
            free: Mutex::new(total),
            returned: Condvar::new(),
        }
    }

    /// The process's budget: `DEPOT_PARSE_MEMORY_MB` megabytes when set to a positive number,
    /// else [`DEFAULT_BUDGET`].
    pub fn global() -> &'static Budget {
        static GLOBAL: OnceLock<Budget> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            let mb = std::env::var("DEPOT_PARSE_MEMORY_MB")
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|mb| *mb > 0);
            Budget::new(mb.map_or(DEFAULT_BUDGET, |mb| mb.saturating_mul(1 << 20)))
        })
    }

    /// The whole budget in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Takes `cost`'s bytes, waiting until other workers have given back enough; refuses a cost
    /// larger than the whole budget at once (it could never be granted).
    pub fn acquire(&self, cost: &ParseCost, extra_bytes: u64) -> Result<Permit<'_>, OverBudget> {
        let bytes = cost.bytes().saturating_add(extra_bytes);
        if bytes > self.total {
            return Err(OverBudget {
                needed: bytes,
                budget: self.total,
                what: describe(cost),
            });
        }
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free < bytes {
            free = self.returned.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= bytes;
        Ok(Permit {
            budget: self,
            bytes,
        })
    }

    /// Bytes not taken at the moment.
    pub fn available(&self) -> u64 {
        *self.free.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Permit<'_> {
    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut free = self.budget.free.lock().unwrap_or_else(|p| p.into_inner());
        *free = free.saturating_add(self.bytes).min(self.budget.total);
        self.budget.returned.notify_all();
    }
}

fn describe(cost: &ParseCost) -> String {
    format!(
        "{} elements, {} sequence items, {} parts of text values, {} bytes of values",
        cost.elements, cost.items, cost.text_parts, cost.value_bytes
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn workers_never_hold_more_than_the_budget() {
        let budget = Arc::new(Budget::new(10 * PER_ELEMENT));
        let held = Arc::new(AtomicU64::new(0));
        let most = Arc::new(AtomicU64::new(0));
        let cost = ParseCost {
            elements: 4,
            ..ParseCost::default()
        };
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (budget, held, most) = (budget.clone(), held.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let permit = budget.acquire(&cost, 0).unwrap();
                        let now = held.fetch_add(permit.bytes(), Ordering::SeqCst) + permit.bytes();
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        held.fetch_sub(permit.bytes(), Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert!(most.load(Ordering::SeqCst) <= 10 * PER_ELEMENT);
        assert_eq!(budget.available(), budget.total(), "everything given back");
    }

    #[test]
    fn a_cost_above_the_whole_budget_is_refused_at_once() {
        let budget = Budget::new(1 << 20);
        let cost = ParseCost {
            items: 1_000,
            elements: 1_000,
            ..ParseCost::default()
        };
        let err = budget.acquire(&cost, 0).unwrap_err();
        assert_eq!(err.needed, 1_000 * (PER_ITEM + PER_ELEMENT));
        let text = err.to_string();
        assert!(text.contains("1000 sequence items"), "{text}");
        assert!(text.contains("DEPOT_PARSE_MEMORY_MB"), "{text}");
        assert_eq!(budget.available(), 1 << 20);
    }
}
