//! Object ids with Stripe's prefixes, request ids, and the clock.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 unpredictable-enough bits: std's randomly keyed hasher over a process-wide counter (no RNG dependency needed
/// for test ids, only uniqueness and a Stripe-like look).
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

/// `length` random characters from `[0-9A-Za-z]`.
pub fn random_text(length: usize) -> String {
    let mut out = String::with_capacity(length);
    let mut bits = random_u64();
    let mut left = 10;
    for _ in 0..length {
        if left == 0 {
            bits = random_u64();
            left = 10;
        }
        out.push(ALPHABET[(bits % 62) as usize] as char);
        bits /= 62;
        left -= 1;
    }
    out
}

/// A new id such as `cus_NffrFeUfNV2Hib`: Stripe uses 14 characters for customers and 24 for most other objects.
pub fn new_id(prefix: &str) -> String {
    let length = match prefix {
        "cus" | "prod" | "acct" => 14,
        _ => 24,
    };
    format!("{prefix}_{}", random_text(length))
}

/// `req_` and 14 characters, like Stripe's `Request-Id`.
pub fn request_id() -> String {
    format!("req_{}", random_text(14))
}

/// Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefixes_and_do_not_repeat() {
        let a = new_id("cus");
        let b = new_id("cus");
        assert!(a.starts_with("cus_") && a.len() == 18);
        assert_ne!(a, b);
        assert_eq!(new_id("pi").len(), 27);
        assert!(request_id().starts_with("req_"));
    }
}
