//! Retry policy: exponential backoff with full jitter (AWS architecture blog, "Exponential
//! Backoff and Jitter"): the n-th retry waits a uniformly random delay in
//! `0..=min(retry_delay_ms_max, retry_delay_ms_base * 2^(n-1))`. Full jitter spreads the
//! retries of many failing messages so a recovering dependency is not hit in waves.

use std::time::Duration;

use rand::Rng;

/// How often and how late a message is retried before it goes to the DLQ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deliveries of one message before it is dead-lettered (SQS `maxReceiveCount`).
    /// Default 3 (S0-02). At least 1.
    pub attempts_max: u32,
    pub retry_delay_ms_base: u64,
    pub retry_delay_ms_max: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // S4-04: backoff from 100 ms up to 30 s.
        Self {
            attempts_max: 3,
            retry_delay_ms_base: 100,
            retry_delay_ms_max: 30_000,
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the delay after `failures` failed deliveries (1 for the first failure).
    pub fn delay_ms_ceiling(&self, failures: u32) -> u64 {
        let exponent = failures.saturating_sub(1).min(63);
        let factor = 1u64.checked_shl(exponent).unwrap_or(u64::MAX);
        self.retry_delay_ms_base
            .saturating_mul(factor)
            .min(self.retry_delay_ms_max)
    }

    /// A full-jitter delay after `failures` failed deliveries.
    pub fn delay(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let ceiling_ms = self.delay_ms_ceiling(failures);
        Duration::from_millis(rng.gen_range(0..=ceiling_ms))
    }

    /// Whether a message that failed `failures` times has used up its budget.
    pub fn exhausted(&self, failures: u32) -> bool {
        failures >= self.attempts_max.max(1)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let policy = RetryPolicy {
            attempts_max: 10,
            retry_delay_ms_base: 100,
            retry_delay_ms_max: 1_000,
        };
        let ceilings: Vec<u64> = (1..=6).map(|n| policy.delay_ms_ceiling(n)).collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(policy.delay_ms_ceiling(500), 1_000);
    }

    #[test]
    fn delay_is_within_ceiling() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        for failures in 1..20 {
            let delay = policy.delay(failures, &mut rng);
            assert!(delay <= Duration::from_millis(policy.delay_ms_ceiling(failures)));
        }
    }

    #[test]
    fn budget_counts_deliveries() {
        let policy = RetryPolicy::default();
        assert!(!policy.exhausted(2));
        assert!(policy.exhausted(3));
    }
}
