//! Bloom filter block (docs/format.md "Filter block"): `bits` bytes, then one byte `k`, the
//! number of probes. About 10 bits per distinct key and k = 7 give ~1% false positives.
//! Probe i sets bit `(h1 + i * h2) mod m` (double hashing, Kirsch–Mitzenmacher).

/// Bits per distinct key.
pub const BITS_PER_KEY: usize = 10;
/// Probes per key (≈ ln 2 × bits per key).
pub const PROBES: u8 = 7;

/// A 64-bit hash of a stored key: FNV-1a, then the splitmix64 finalizer to spread the bits.
#[must_use]
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Builds a filter over the given key hashes.
#[must_use]
pub fn build(hashes: &[u64]) -> Vec<u8> {
    let bits = (hashes.len() * BITS_PER_KEY).max(64);
    let bytes = bits.div_ceil(8);
    let m = (bytes * 8) as u64;
    let mut out = vec![0u8; bytes + 1];
    for &h in hashes {
        let (mut probe, delta) = (h, h.rotate_right(33) | 1);
        for _ in 0..PROBES {
            let bit = probe % m;
            if let Some(byte) = out.get_mut((bit / 8) as usize) {
                *byte |= 1 << (bit % 8);
            }
            probe = probe.wrapping_add(delta);
        }
    }
    if let Some(last) = out.last_mut() {
        *last = PROBES;
    }
    out
}

/// Whether the key with this hash may be in the set. A malformed filter answers `true`
/// (it can only cost a read, never hide data).
#[must_use]
pub fn may_contain(filter: &[u8], hash: u64) -> bool {
    let Some((&k, bits)) = filter.split_last() else {
        return true;
    };
    if bits.is_empty() || k == 0 || k > 30 {
        return true;
    }
    let m = (bits.len() * 8) as u64;
    let (mut probe, delta) = (hash, hash.rotate_right(33) | 1);
    for _ in 0..k {
        let bit = probe % m;
        if bits.get((bit / 8) as usize).is_none_or(|byte| byte & (1 << (bit % 8)) == 0) {
            return false;
        }
        probe = probe.wrapping_add(delta);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let hashes: Vec<u64> = (0..10_000u32).map(|i| key_hash(format!("key{i}").as_bytes())).collect();
        let f = build(&hashes);
        assert!(hashes.iter().all(|&h| may_contain(&f, h)));
        let false_positives =
            (0..10_000u32).filter(|i| may_contain(&f, key_hash(format!("other{i}").as_bytes()))).count();
        assert!(false_positives < 300, "{false_positives} false positives in 10k");
    }
}
