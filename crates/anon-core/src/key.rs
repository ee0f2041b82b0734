//! The de-identification key and everything derived from it: UID mappings, subject pseudonyms,
//! value codes and per-subject date offsets. All derivations are HMAC-SHA256 under the key, so
//! the same key gives the same results in every file and every run, and nobody without the key
//! can reverse or recompute them.

use std::fmt;

use hmac::digest::KeyInit;
use hmac::digest::generic_array::GenericArray;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::KeyError;

type HmacSha256 = Hmac<Sha256>;

/// A 32-byte secret. Never printed: `Debug` shows only that it is a key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Key {
    /// Wraps 32 bytes (from a random source, or a test's fixed bytes).
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    /// Reads 64 hexadecimal characters (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Key, KeyError> {
        let t = text.trim();
        if t.len() != 64 {
            return Err(KeyError::BadLength {
                found: t.chars().count(),
            });
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(t, &mut out).map_err(|_| KeyError::NotHex)?;
        Ok(Key(out))
    }

    /// The key as 64 lowercase hexadecimal characters (for writing the key file only).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// HMAC-SHA256 of `parts` under the key.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        // HMAC zero-pads keys shorter than the hash's 64-byte block, so the padded block is
        // the same key; the fixed-size constructor needs no fallible length check.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        let mut mac = <HmacSha256 as KeyInit>::new(GenericArray::from_slice(&block));
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// 16 lowercase hex digits of HMAC(key, "file" NUL SHA-256(bytes)): names one file's bytes
    /// (a second copy of an instance, say) the same way in every run with the key, without
    /// letting anyone who holds the original file recognise it.
    pub(crate) fn content_tag(&self, bytes: &[u8]) -> String {
        use sha2::Digest;
        let digest = Sha256::digest(bytes);
        hex::encode(&self.mac(&[b"file\0", digest.as_slice()])[..8])
    }

    /// `2.25.` + decimal of the first 16 bytes of HMAC-SHA256(key, uid): at most 44 characters.
    pub(crate) fn uid_for(&self, uid: &str) -> String {
        let d = self.mac(&[uid.as_bytes()]);
        let mut first = [0u8; 16];
        first.copy_from_slice(&d[..16]);
        format!("2.25.{}", u128::from_be_bytes(first))
    }

    /// `P` + 10 base32 characters from HMAC(key, "patient" NUL issuer NUL id).
    pub(crate) fn pseudonym_for(&self, patient_id: &str, issuer: &str) -> String {
        let d = self.mac(&[
            b"patient\0",
            issuer.as_bytes(),
            b"\0",
            patient_id.as_bytes(),
        ]);
        format!("P{}", base32_10(&d))
    }

    /// The pseudonym of a subject without a PatientID, from name and birth date (so that
    /// different patients without IDs do not merge into one subject).
    pub(crate) fn pseudonym_without_id(&self, name: &str, birth_date: &str) -> String {
        let d = self.mac(&[
            b"patient-without-id\0",
            name.as_bytes(),
            b"\0",
            birth_date.as_bytes(),
        ]);
        format!("P{}", base32_10(&d))
    }

    /// The date offset of a subject without a PatientID (see [`Key::pseudonym_without_id`]).
    pub(crate) fn date_offset_without_id(&self, name: &str, birth_date: &str) -> i32 {
        let d = self.mac(&[
            b"date-offset-without-id\0",
            name.as_bytes(),
            b"\0",
            birth_date.as_bytes(),
        ]);
        let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        -((n % 3650) as i32) - 1
    }

    /// `H` + 10 base32 characters from HMAC(key, "value" NUL tag NUL value): a keyed code for
    /// other text attributes under action P (for example Issuer of Patient ID).
    pub(crate) fn value_code_for(&self, tag: u32, value: &str) -> String {
        let d = self.mac(&[b"value\0", &tag.to_be_bytes(), b"\0", value.as_bytes()]);
        format!("H{}", base32_10(&d))
    }

    /// `AE` + 10 base32 characters from HMAC(key, "ae-title" NUL title): the keyed pseudonym
    /// of an AE title under action C (12 characters, valid in AE).
    pub(crate) fn ae_title_for(&self, title: &str) -> String {
        let d = self.mac(&[b"ae-title\0", title.as_bytes()]);
        format!("AE{}", base32_10(&d))
    }

    /// A day offset in −3650..=−1, from HMAC(key, "date-offset" NUL issuer NUL id).
    pub(crate) fn date_offset_for(&self, patient_id: &str, issuer: &str) -> i32 {
        let d = self.mac(&[
            b"date-offset\0",
            issuer.as_bytes(),
            b"\0",
            patient_id.as_bytes(),
        ]);
        let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        -((n % 3650) as i32) - 1
    }
}

/// Ten RFC 4648 base32 characters (50 bits) from the start of `bytes`.
fn base32_10(bytes: &[u8; 32]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut acc: u64 = 0;
    for b in &bytes[..8] {
        acc = (acc << 8) | u64::from(*b);
    }
    (0..10)
        .map(|i| {
            let idx = ((acc >> (64 - 5 * (i + 1))) & 0x1F) as usize;
            char::from(ALPHABET[idx])
        })
        .collect()
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        Key::from_bytes([b; 32])
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let k = key(7);
        assert_eq!(Key::from_hex(&k.to_hex()).ok(), Some(k.clone()));
        assert!(matches!(
            Key::from_hex("abc"),
            Err(KeyError::BadLength { found: 3 })
        ));
        assert!(matches!(
            Key::from_hex(&"zz".repeat(32)),
            Err(KeyError::NotHex)
        ));
        assert_eq!(format!("{k:?}"), "Key(<secret>)");
    }

    #[test]
    fn uid_mapping_is_keyed_consistent_and_short() {
        let a = key(1).uid_for("1.2.3.4");
        assert_eq!(a, key(1).uid_for("1.2.3.4"));
        assert_ne!(a, key(2).uid_for("1.2.3.4"));
        assert_ne!(a, key(1).uid_for("1.2.3.5"));
        assert!(a.starts_with("2.25.") && a.len() <= 64);
        assert!(a["2.25.".len()..].chars().all(|c| c.is_ascii_digit()));
        assert!(!a["2.25.".len()..].starts_with('0'));
    }

    #[test]
    fn pseudonyms_fit_lo_and_pn() {
        let p = key(1).pseudonym_for("12345", "HOSP");
        assert_eq!(p.len(), 11);
        assert!(p.starts_with('P'));
        assert!(
            p.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_ne!(p, key(1).pseudonym_for("12345", ""));
        assert_ne!(p, key(1).pseudonym_for("1234", "5HOSP"));
    }

    #[test]
    fn padded_block_key_equals_plain_hmac() {
        let plain = <HmacSha256 as Mac>::new_from_slice(&[4u8; 32]).map(|mut m| {
            m.update(b"1.2.3");
            <[u8; 32]>::from(m.finalize().into_bytes())
        });
        assert_eq!(plain.ok(), Some(key(4).mac(&[b"1.2.3"])));
    }

    #[test]
    fn date_offsets_are_in_range() {
        for i in 0..200 {
            let o = key(3).date_offset_for(&i.to_string(), "");
            assert!((-3650..=-1).contains(&o), "{o}");
        }
    }
}
