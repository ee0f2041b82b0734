//! Deterministic random values for planned data: UIDs, digit strings, picks from the name pools
//! and calendar dates, all drawn from the caller's seeded ChaCha generator.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A 2.25 UID root: a random 126-bit integer (headroom to add instance numbers).
pub(crate) fn uid_int(rng: &mut ChaCha8Rng) -> u128 {
    rng.random::<u128>() >> 2
}

/// A random UID under the 2.25 root.
pub(crate) fn uid(rng: &mut ChaCha8Rng) -> String {
    format!("2.25.{}", uid_int(rng))
}

/// `n` random decimal digits.
pub(crate) fn digits(rng: &mut ChaCha8Rng, n: u32) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// A random element of `pool` (which must not be empty).
pub(crate) fn pick<'a, T>(rng: &mut ChaCha8Rng, pool: &'a [T]) -> &'a T {
    &pool[rng.random_range(0..pool.len())]
}

/// Days since 1970-01-01 → `YYYYMMDD` (proleptic Gregorian).
pub(crate) fn date_from_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(date_from_days(0), "19700101");
        assert_eq!(date_from_days(19_723), "20240101");
        assert_eq!(date_from_days(-1), "19691231");
        assert_eq!(date_from_days(11_016), "20000229");
    }
}
