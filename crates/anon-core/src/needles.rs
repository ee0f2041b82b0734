//! A set of byte strings searched for all at once, every occurrence (overlapping ones too).
//!
//! Cleaning builds one set per object (the values differ from object to object) and searches
//! it over a few short texts, so building must cost next to nothing: the set is the values
//! sorted by their first byte, and a search looks, at each position of the text, only at the
//! values that start with the byte found there.

/// Byte strings to find, indexed by first byte.
#[derive(Debug, Clone)]
pub(crate) struct NeedleSet {
    /// The values; with ASCII folding, lower-cased.
    patterns: Vec<Vec<u8>>,
    /// Indices into `patterns`, sorted by first byte.
    order: Vec<u32>,
    /// `order[start[b]..start[b + 1]]` are the values starting with byte `b`.
    start: Box<[u32; 257]>,
    /// Whether ASCII letters match whatever their case.
    fold_ascii: bool,
}

impl NeedleSet {
    /// A set of `patterns` (empty ones are never found); with `fold_ascii`, ASCII letters
    /// match case-insensitively.
    pub(crate) fn new(patterns: Vec<Vec<u8>>, fold_ascii: bool) -> NeedleSet {
        let patterns: Vec<Vec<u8>> = if fold_ascii {
            patterns
                .into_iter()
                .map(|p| p.to_ascii_lowercase())
                .collect()
        } else {
            patterns
        };
        let mut count = [0u32; 257];
        for p in &patterns {
            if let Some(b) = p.first() {
                count[usize::from(*b) + 1] += 1;
            }
        }
        let mut start = Box::new([0u32; 257]);
        for b in 1..257 {
            start[b] = start[b - 1] + count[b];
        }
        let mut next = *start;
        let mut order = vec![0u32; start[256] as usize];
        for (i, p) in patterns.iter().enumerate() {
            if let Some(b) = p.first() {
                let slot = &mut next[usize::from(*b)];
                if let Some(o) = order.get_mut(*slot as usize) {
                    *o = i as u32;
                }
                *slot += 1;
            }
        }
        NeedleSet {
            patterns,
            order,
            start,
            fold_ascii,
        }
    }

    /// Whether the set has no value.
    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Whether `value` is one of the values, whole (ASCII case folded if the set folds it).
    pub(crate) fn contains(&self, value: &[u8]) -> bool {
        let Some(b) = value.first() else {
            return false;
        };
        let b = if self.fold_ascii {
            b.to_ascii_lowercase()
        } else {
            *b
        };
        let (from, to) = (self.start[usize::from(b)], self.start[usize::from(b) + 1]);
        self.order
            .get(from as usize..to as usize)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| self.patterns.get(*p as usize))
            .any(|p| {
                if self.fold_ascii {
                    p.eq_ignore_ascii_case(value)
                } else {
                    p.as_slice() == value
                }
            })
    }

    /// Calls `found(value index, start, end)` for every occurrence of every value in `hay`.
    pub(crate) fn for_each_match(&self, hay: &[u8], mut found: impl FnMut(usize, usize, usize)) {
        if self.order.is_empty() {
            return;
        }
        for (i, b) in hay.iter().enumerate() {
            let b = if self.fold_ascii {
                b.to_ascii_lowercase()
            } else {
                *b
            };
            let (from, to) = (self.start[usize::from(b)], self.start[usize::from(b) + 1]);
            if from == to {
                continue;
            }
            let rest = hay.get(i..).unwrap_or_default();
            for &p in self
                .order
                .get(from as usize..to as usize)
                .unwrap_or_default()
            {
                let Some(needle) = self.patterns.get(p as usize) else {
                    continue;
                };
                let hit = rest.get(..needle.len()).is_some_and(|w| {
                    if self.fold_ascii {
                        w.eq_ignore_ascii_case(needle)
                    } else {
                        w == needle.as_slice()
                    }
                });
                if hit {
                    found(p as usize, i, i + needle.len());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(set: &NeedleSet, hay: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        set.for_each_match(hay, |p, s, e| out.push((p, s, e)));
        out
    }

    #[test]
    fn finds_every_occurrence_overlapping_ones_too() {
        let set = NeedleSet::new(vec![b"ana".to_vec(), b"an".to_vec(), Vec::new()], false);
        assert_eq!(
            all(&set, b"banana"),
            vec![(0, 1, 4), (1, 1, 3), (0, 3, 6), (1, 3, 5)]
        );
        assert!(all(&set, b"BANANA").is_empty());
        let folded = NeedleSet::new(vec![b"Smith".to_vec()], true);
        assert_eq!(all(&folded, b"x SMITH smith"), vec![(0, 2, 7), (0, 8, 13)]);
        assert!(all(&NeedleSet::new(Vec::new(), true), b"abc").is_empty());
    }
}
