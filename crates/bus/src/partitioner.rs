//! Kafka's default partitioner, so that a key lands on the same partition number in the
//! `embedded` and `kafka` profiles.
//!
//! Owns: the key → partition function ([`partition_for_key`], Java client's
//! `Utils.murmur2` + `Utils.toPositive` + modulo) and the choice for records without a key
//! ([`KeylessPartitioner`]). It knows nothing of storage.
//!
//! Records without a key are **sticky per produce call, round robin across calls**: every
//! keyless record of one `produce` call goes to the same partition, and the next call moves
//! to the next partition. That is the spirit of Kafka's sticky partitioner (KIP-480: fill a
//! batch on one partition, then switch) and it keeps one call one batch on disk.

use std::sync::atomic::{AtomicU32, Ordering};

/// Kafka's `Utils.murmur2` (32-bit MurmurHash2, seed `0x9747b28c`), byte for byte as the Java
/// client computes it, returned as the Java `int` would be.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    let length = data.len();
    // Kafka computes `seed ^ length` on Java ints: the length is truncated to 32 bits there
    // too, so this cast keeps the Java result for any key.
    let mut h: u32 = SEED ^ (length as u32);

    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // The Java switch falls through from 3 to 1; bytes are masked with 0xff (unsigned).
    match tail.len() {
        3 => {
            h ^= u32::from(tail[2]) << 16;
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        2 => {
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        1 => {
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        _ => {}
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on MIN).
pub fn to_positive(n: i32) -> u32 {
    (n & 0x7fff_ffff) as u32
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % partitions`, as Kafka's
/// `BuiltInPartitioner.partitionForKey`. `partitions` must be at least 1.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    debug_assert!(partitions > 0, "a topic has at least one partition");
    to_positive(murmur2(key)) % partitions.max(1)
}

/// Chooses the partition of keyless records: sticky per produce call, round robin across
/// calls (see the module docs).
#[derive(Debug, Default)]
pub struct KeylessPartitioner {
    next: AtomicU32,
}

impl KeylessPartitioner {
    /// The partition for the keyless records of the next produce call.
    pub fn next_partition(&self, partitions: u32) -> u32 {
        self.next.fetch_add(1, Ordering::Relaxed) % partitions.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes from Apache Kafka's `clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java`
    /// (`testMurmur2`), which asserts the Java client's `Utils.murmur2` on these strings.
    #[test]
    fn murmur2_matches_kafka_utils_test() {
        let cases: &[(&str, i32)] = &[
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key.as_bytes()), *expected, "key {key:?}");
        }
    }

    /// Hashes from librdkafka's `src/rdmurmur2.c` unit test (`java_murmur2_results`), which
    /// checks its C port against the Java client; they cover every tail length (0–3 bytes).
    #[test]
    fn murmur2_matches_librdkafka_unittest() {
        let unaligned = "PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: &[(&str, u32)] = &[
            ("kafka", 0xd067_cf64),
            ("giberish123456789", 0x8f55_2b0c),
            ("1234", 0x9fc9_7b14),
            ("234", 0xe7c0_09ca),
            ("34", 0x8739_30da),
            ("4", 0x5a4b_5ca1),
            (&unaligned[0..], 0x7842_4f1c),
            (&unaligned[1..], 0x4a62_b377),
            (&unaligned[2..], 0xe0e4_e09e),
            (&unaligned[3..], 0x62b8_b43f),
            ("", 0x106e_08d9),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key.as_bytes()) as u32, *expected, "key {key:?}");
        }
    }

    /// Key → partition over 1000 partitions, from kafka-python's
    /// `test/test_partitioner.py::test_murmur2_java_compatibility`, recorded there as the
    /// output of Kafka's Java `DefaultPartitioner`.
    #[test]
    fn partition_for_key_matches_java_default_partitioner() {
        let cases: &[(&[u8], u32)] = &[
            (b"", 681),
            (b"a", 524),
            (b"ab", 434),
            (b"abc", 107),
            (b"123456789", 566),
            (b"\x00 ", 742),
        ];
        for (key, expected) in cases {
            assert_eq!(partition_for_key(key, 1000), *expected, "key {key:?}");
        }
    }

    #[test]
    fn to_positive_clears_the_sign_bit_only() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(5), 5);
    }

    #[test]
    fn keyless_is_round_robin_across_calls() {
        let p = KeylessPartitioner::default();
        let got: Vec<u32> = (0..6).map(|_| p.next_partition(3)).collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2]);
    }
}
