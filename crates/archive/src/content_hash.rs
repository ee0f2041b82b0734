//! The content hash: how depot names and checks a file's bytes.
//!
//! Every stored instance, reject and conflict carries the hash of its bytes in the index; stored
//! files are named by it; a file seen again is a duplicate when its hash equals the archived
//! one and a conflict when it differs; exporting `original` checks the stored bytes against it;
//! a package's manifest lists each file's checksum. This module is the one place that makes
//! such a hash, so that the algorithm is a value ([`HashAlgorithm`]) rather than an assumption.
//!
//! New archives hash with BLAKE3 (about three times faster than SHA-256 with the SHA
//! extensions on the same core, which matters when an import or export is bound by hashing);
//! an archive created before depot recorded its algorithm keeps SHA-256 for good, so that its
//! rows and file names stay valid and nothing is rehashed (`schema/0004_content_hash.sql`).
//! Both give 32 bytes, 64 hex digits, so the storage layout is the same.
//!
//! Keyed uses of SHA-256 (pseudonyms, UID remapping, key and profile fingerprints) are not
//! content hashes and do not belong here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Digest;

/// The algorithm of a content hash or checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    /// BLAKE3 with its default 32-byte output (`b3sum`).
    Blake3,
    /// SHA-256 (`sha256sum`).
    Sha256,
}

/// Bytes fed to the hashers per step when two algorithms hash the same bytes, so that each
/// chunk is still in the CPU's cache when the second hasher reads it.
const CHUNK: usize = 64 * 1024;

impl HashAlgorithm {
    /// Every algorithm, the default first.
    pub const ALL: [HashAlgorithm; 2] = [HashAlgorithm::Blake3, HashAlgorithm::Sha256];

    /// The algorithm of archives created by this version of depot, and of manifests unless
    /// asked otherwise.
    pub const DEFAULT: HashAlgorithm = HashAlgorithm::Blake3;

    /// Its name as the index, manifests and the command line write it: `blake3`, `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Blake3 => "blake3",
            HashAlgorithm::Sha256 => "sha256",
        }
    }

    /// Its name in prose: `BLAKE3`, `SHA-256`.
    pub fn title(self) -> &'static str {
        match self {
            HashAlgorithm::Blake3 => "BLAKE3",
            HashAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// A hasher to feed bytes to piece by piece.
    pub fn hasher(self) -> ContentHasher {
        match self {
            HashAlgorithm::Blake3 => ContentHasher::Blake3(Box::new(blake3::Hasher::new())),
            HashAlgorithm::Sha256 => ContentHasher::Sha256(sha2::Sha256::new()),
        }
    }

    /// The hash of `bytes`, as lower-case hex (64 digits).
    pub fn hex(self, bytes: &[u8]) -> String {
        match self {
            HashAlgorithm::Blake3 => blake3::hash(bytes).to_hex().to_string(),
            HashAlgorithm::Sha256 => hex::encode(sha2::Sha256::digest(bytes)),
        }
    }

    /// The hash of `bytes` (both algorithms give 32 bytes).
    pub fn digest(self, bytes: &[u8]) -> [u8; 32] {
        match self {
            HashAlgorithm::Blake3 => *blake3::hash(bytes).as_bytes(),
            HashAlgorithm::Sha256 => sha2::Sha256::digest(bytes).into(),
        }
    }

    /// The hashes of `bytes` by `self` and by `other` (one hash when they are the same
    /// algorithm), in one pass over the bytes.
    pub fn digest_with(self, other: HashAlgorithm, bytes: &[u8]) -> ([u8; 32], [u8; 32]) {
        if self == other {
            let h = self.digest(bytes);
            return (h, h);
        }
        let (mut a, mut b) = (self.hasher(), other.hasher());
        for chunk in bytes.chunks(CHUNK) {
            a.update(chunk);
            b.update(chunk);
        }
        (a.finalize(), b.finalize())
    }

    /// The hashes of `bytes` by `self` and by `other` (one hash when they are the same
    /// algorithm), in one pass over the bytes.
    pub fn hex_with(self, other: HashAlgorithm, bytes: &[u8]) -> (String, String) {
        if self == other {
            let h = self.hex(bytes);
            return (h.clone(), h);
        }
        let (mut a, mut b) = (self.hasher(), other.hasher());
        for chunk in bytes.chunks(CHUNK) {
            a.update(chunk);
            b.update(chunk);
        }
        (a.finalize_hex(), b.finalize_hex())
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`HashAlgorithm`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm {0:?} (known: blake3, sha256)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for HashAlgorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| UnknownAlgorithm(s.to_string()))
    }
}

/// A content hash being computed, piece by piece (files streamed from disk).
#[derive(Debug, Clone)]
pub enum ContentHasher {
    /// BLAKE3 (boxed: its state is nearly 2 kB).
    Blake3(Box<blake3::Hasher>),
    /// SHA-256.
    Sha256(sha2::Sha256),
}

impl ContentHasher {
    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            ContentHasher::Blake3(h) => {
                h.update(bytes);
            }
            ContentHasher::Sha256(h) => h.update(bytes),
        }
    }

    /// The hash of everything fed.
    pub fn finalize(self) -> [u8; 32] {
        match self {
            ContentHasher::Blake3(h) => *h.finalize().as_bytes(),
            ContentHasher::Sha256(h) => h.finalize().into(),
        }
    }

    /// The hash of everything fed, as lower-case hex.
    pub fn finalize_hex(self) -> String {
        match self {
            ContentHasher::Blake3(h) => h.finalize().to_hex().to_string(),
            ContentHasher::Sha256(h) => hex::encode(h.finalize()),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> HashAlgorithm {
        match self {
            ContentHasher::Blake3(_) => HashAlgorithm::Blake3,
            ContentHasher::Sha256(_) => HashAlgorithm::Sha256,
        }
    }
}

/// Feeding a hasher as a writer (`std::io::copy` from a reader).
impl std::io::Write for ContentHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published test vectors: SHA-256 of "abc" (FIPS 180-2) and BLAKE3 of the empty input
    /// and of "abc" (the reference implementation's `b3sum`).
    #[test]
    fn known_values() {
        assert_eq!(
            HashAlgorithm::Sha256.hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            HashAlgorithm::Blake3.hex(b""),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(
            HashAlgorithm::Blake3.hex(b"abc"),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
    }

    #[test]
    fn streamed_and_paired_hashes_equal_the_one_shot_hash() {
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for algorithm in HashAlgorithm::ALL {
            let mut h = algorithm.hasher();
            for piece in bytes.chunks(1000) {
                h.update(piece);
            }
            assert_eq!(h.algorithm(), algorithm);
            assert_eq!(h.finalize_hex(), algorithm.hex(&bytes));
            let mut written = algorithm.hasher();
            std::io::copy(&mut &bytes[..], &mut written).expect("in memory");
            assert_eq!(written.finalize_hex(), algorithm.hex(&bytes));
            let mut raw = algorithm.hasher();
            raw.update(&bytes);
            assert_eq!(hex::encode(raw.finalize()), algorithm.hex(&bytes));
            assert_eq!(hex::encode(algorithm.digest(&bytes)), algorithm.hex(&bytes));
            for other in HashAlgorithm::ALL {
                assert_eq!(
                    algorithm.hex_with(other, &bytes),
                    (algorithm.hex(&bytes), other.hex(&bytes))
                );
                let (a, b) = algorithm.digest_with(other, &bytes);
                assert_eq!(
                    (hex::encode(a), hex::encode(b)),
                    (algorithm.hex(&bytes), other.hex(&bytes))
                );
            }
        }
        assert_ne!(
            HashAlgorithm::Blake3.hex(&bytes),
            HashAlgorithm::Sha256.hex(&bytes)
        );
    }

    #[test]
    fn names_read_back() {
        for algorithm in HashAlgorithm::ALL {
            assert_eq!(algorithm.name().parse(), Ok(algorithm));
            assert_eq!(
                serde_json::to_string(&algorithm).ok(),
                Some(format!("\"{}\"", algorithm.name()))
            );
        }
        assert_eq!(
            "SHA256".parse::<HashAlgorithm>(),
            Err(UnknownAlgorithm("SHA256".into()))
        );
    }
}
