//! A circuit breaker (S4-05) around the payment decision's dependency.
//!
//! `Closed` → after `failures_to_open` consecutive failures → `Open` for `open_ms`: calls
//! fail fast without touching the dependency → `HalfOpen`: one trial call; success closes,
//! failure opens again. A std `Mutex` guards the state: it is held for a few instructions,
//! never across the dependency's `.await`.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::pipeline::lock;

#[derive(Clone, Debug)]
pub struct BreakerConfig {
    pub failures_to_open: u32,
    pub open_ms: u64,
    /// A call slower than this counts as a failure (injected latency opens the breaker).
    pub call_timeout_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures_to_open: 5,
            open_ms: 10_000,
            call_timeout_ms: 2_000,
        }
    }
}

/// The breaker's state; on the wire `closed`, `open` or `half_open`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

/// Why a call through the breaker failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakerError {
    #[error("circuit open: the dependency is not called")]
    Open,
    #[error("dependency timed out after {0} ms")]
    Timeout(u64),
    #[error("dependency failed: {0}")]
    Failed(String),
}

#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
        }
    }

    /// The state now (an `Open` breaker past `open_ms` reads `HalfOpen`).
    pub fn state(&self) -> BreakerState {
        let mut inner = lock(&self.inner);
        self.refresh(&mut inner);
        inner.state
    }

    fn refresh(&self, inner: &mut Inner) {
        if inner.state == BreakerState::Open
            && inner
                .opened_at
                .is_some_and(|at| at.elapsed() >= Duration::from_millis(self.config.open_ms))
        {
            inner.state = BreakerState::HalfOpen;
            inner.trial_in_flight = false;
        }
    }

    /// Runs `call` unless the breaker is open (or half-open with its trial in flight).
    pub async fn call<T, F>(&self, call: F) -> Result<T, BreakerError>
    where
        F: Future<Output = Result<T, String>>,
    {
        {
            let mut inner = lock(&self.inner);
            self.refresh(&mut inner);
            match inner.state {
                BreakerState::Closed => {}
                BreakerState::Open => return Err(BreakerError::Open),
                BreakerState::HalfOpen if inner.trial_in_flight => return Err(BreakerError::Open),
                BreakerState::HalfOpen => inner.trial_in_flight = true,
            }
        }
        let timeout = Duration::from_millis(self.config.call_timeout_ms);
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(BreakerError::Failed(error)),
            Err(_) => Err(BreakerError::Timeout(self.config.call_timeout_ms)),
        };
        let mut inner = lock(&self.inner);
        inner.trial_in_flight = false;
        match &result {
            Ok(_) => {
                inner.state = BreakerState::Closed;
                inner.consecutive_failures = 0;
                inner.opened_at = None;
            }
            Err(_) => {
                inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
                if inner.state == BreakerState::HalfOpen
                    || inner.consecutive_failures >= self.config.failures_to_open
                {
                    if inner.state != BreakerState::Open {
                        tracing::warn!(
                            failures = inner.consecutive_failures,
                            "circuit breaker opens"
                        );
                    }
                    inner.state = BreakerState::Open;
                    inner.opened_at = Some(Instant::now());
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_and_recovers_through_half_open() {
        let breaker = CircuitBreaker::new(BreakerConfig {
            failures_to_open: 3,
            open_ms: 1_000,
            call_timeout_ms: 100,
        });
        for _ in 0..3 {
            let r: Result<(), _> = breaker.call(async { Err("down".to_owned()) }).await;
            assert!(matches!(r, Err(BreakerError::Failed(_))));
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        let r: Result<u32, _> = breaker.call(async { Ok(1) }).await;
        assert_eq!(r, Err(BreakerError::Open), "fails fast while open");
        tokio::time::advance(Duration::from_millis(1_001)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        // A failed trial opens it again.
        let r: Result<(), _> = breaker.call(async { Err("still down".to_owned()) }).await;
        assert!(r.is_err());
        assert_eq!(breaker.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_millis(1_001)).await;
        assert_eq!(breaker.call(async { Ok(7) }).await, Ok(7));
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_dependency_counts_as_a_failure() {
        let breaker = CircuitBreaker::new(BreakerConfig {
            failures_to_open: 1,
            open_ms: 1_000,
            call_timeout_ms: 100,
        });
        let slow = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok::<_, String>(1)
        };
        assert_eq!(breaker.call(slow).await, Err(BreakerError::Timeout(100)));
        assert_eq!(breaker.state(), BreakerState::Open);
    }
}
