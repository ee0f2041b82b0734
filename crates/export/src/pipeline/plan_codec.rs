//! How a plan entry is written to the plan's temporary file and read back ([`super::plan_store`]):
//! little-endian numbers, strings with their length, a tag byte for each choice, and the values
//! a series' files share (the series, the subject's package label) as numbers into tables held
//! in memory once per series and subject.

use std::collections::HashMap;
use std::sync::Arc;

use super::planned::{Planned, Regroup, WrittenFile};
use super::reuse::Slot;
use super::selected::{SeriesOf, Stored, UnusualStored};

/// The shared values entries refer to by number: series and subject labels.
#[derive(Default)]
pub(crate) struct Codec {
    series: Vec<Arc<SeriesOf>>,
    series_ids: HashMap<*const SeriesOf, u32>,
    labels: Vec<Arc<str>>,
    label_ids: HashMap<Arc<str>, u32>,
}

impl Codec {
    fn series_id(&mut self, s: &Arc<SeriesOf>) -> u32 {
        let next = self.series.len() as u32;
        let id = *self.series_ids.entry(Arc::as_ptr(s)).or_insert(next);
        if id == next {
            self.series.push(Arc::clone(s));
        }
        id
    }

    fn label_id(&mut self, s: &Arc<str>) -> u32 {
        if let Some(&id) = self.label_ids.get(s) {
            return id;
        }
        let id = self.labels.len() as u32;
        self.labels.push(Arc::clone(s));
        self.label_ids.insert(Arc::clone(s), id);
        id
    }

    /// Appends `p`'s entry to `out`.
    pub(crate) fn encode(&mut self, p: &Planned, out: &mut Vec<u8>) {
        let r = &p.record;
        put_u32(out, self.series_id(&r.series));
        put_str(out, &r.sop_uid);
        match r.instance_number {
            Some(n) => {
                out.push(1);
                out.extend_from_slice(&n.to_le_bytes());
            }
            None => out.push(0),
        }
        match &r.stored {
            Stored::Usual(hash) => {
                out.push(0);
                out.extend_from_slice(hash);
            }
            Stored::Unusual(u) => {
                out.push(1);
                put_str(out, &u.content_hash);
                put_str(out, &u.path);
            }
        }
        out.extend_from_slice(&r.size.to_le_bytes());
        put_u32(out, self.label_id(&p.subject_label));
        out.extend_from_slice(&p.study.to_le_bytes());
        put_u32(out, p.number);
        match &p.regroup {
            Regroup::Unknown => out.push(0),
            Regroup::Key(k) => {
                out.push(1);
                out.extend_from_slice(k);
            }
            Regroup::Rejected(reason) => {
                out.push(2);
                put_str(out, reason);
            }
        }
        match &p.burned_in {
            Some(b) => {
                out.push(1);
                put_str(out, b);
            }
            None => out.push(0),
        }
        out.push(u8::from(p.add_patient_id));
        match p.kept {
            Slot::Empty => out.push(0),
            Slot::InMemory(n) => {
                out.push(1);
                put_u32(out, n);
            }
            Slot::OnDisk { offset, len } => {
                out.push(2);
                out.extend_from_slice(&offset.to_le_bytes());
                out.extend_from_slice(&len.to_le_bytes());
            }
        }
        match &p.written {
            Some(w) => {
                out.push(1);
                out.extend_from_slice(&w.digest);
                out.extend_from_slice(&w.bytes.to_le_bytes());
            }
            None => out.push(0),
        }
    }

    /// The entry `r` is at, read past; `None` when it is not one [`Codec::encode`] wrote.
    pub(crate) fn decode(&self, r: &mut Reader<'_>) -> Option<Planned> {
        let series = Arc::clone(self.series.get(r.u32()? as usize)?);
        let sop_uid: Arc<str> = r.str()?.into();
        let instance_number = match r.u8()? {
            0 => None,
            1 => Some(r.i64()?),
            _ => return None,
        };
        let stored = match r.u8()? {
            0 => Stored::Usual(r.array()?),
            1 => Stored::Unusual(Box::new(UnusualStored {
                content_hash: r.str()?.to_string(),
                path: r.str()?.to_string(),
            })),
            _ => return None,
        };
        let size = r.u64()?;
        let subject_label = Arc::clone(self.labels.get(r.u32()? as usize)?);
        let study = r.i64()?;
        let number = r.u32()?;
        let regroup = match r.u8()? {
            0 => Regroup::Unknown,
            1 => Regroup::Key(r.array()?),
            2 => Regroup::Rejected(r.str()?.into()),
            _ => return None,
        };
        let burned_in = match r.u8()? {
            0 => None,
            1 => Some(r.str()?.into()),
            _ => return None,
        };
        let add_patient_id = match r.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let kept = match r.u8()? {
            0 => Slot::Empty,
            1 => Slot::InMemory(r.u32()?),
            2 => Slot::OnDisk {
                offset: r.u64()?,
                len: r.u64()?,
            },
            _ => return None,
        };
        let written = match r.u8()? {
            0 => None,
            1 => Some(WrittenFile {
                digest: r.array()?,
                bytes: r.u64()?,
            }),
            _ => return None,
        };
        Some(Planned {
            record: super::selected::Selected {
                series,
                sop_uid,
                instance_number,
                stored,
                size,
            },
            subject_label,
            study,
            number,
            regroup,
            burned_in,
            add_patient_id,
            kept,
            written,
        })
    }
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, u32::try_from(s.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(&s.as_bytes()[..s.len().min(u32::MAX as usize)]);
}

/// Reads what [`Codec::encode`] wrote; `None` at anything else.
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A reader of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader(bytes)
    }

    /// Whether everything was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.array()?))
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

/// A copy of a plan entry (tests compare plans read back from disk with the ones in memory).
#[cfg(test)]
pub(crate) fn clone_planned(p: &Planned) -> Planned {
    let mut codec = Codec::default();
    let mut buf = Vec::new();
    codec.encode(p, &mut buf);
    codec.decode(&mut Reader(&buf)).expect("reads back")
}
