//! Traffic patterns and pacing. Owns the shape of the rate over time as pure
//! functions ([`TrafficPattern::rate_at`] and its exact integral
//! [`TrafficPattern::events_until`]) and the [`Pacer`] that turns elapsed time into a number
//! of events due now. Does not sleep, spawn or read a clock itself: the driver passes the
//! elapsed time it read from its injected clock.
//!
//! Why an integral rather than a token bucket refilled at each tick: the count due at `t` is
//! `floor(∫₀ᵗ rate)` minus what was already emitted, so there is no accumulated rounding
//! drift, whatever the tick length, from 1 to 50 000 events/s.

use std::collections::VecDeque;
use std::f64::consts::TAU;
use std::time::Duration;

use serde::Deserialize;

/// How the target rate evolves over time. Rates are events per second.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TrafficPattern {
    /// The same rate all along.
    Constant { rate_per_second: f64 },
    /// Linear from `from_per_second` to `to_per_second` over `ramp_s`, then held.
    Ramp {
        from_per_second: f64,
        to_per_second: f64,
        ramp_s: f64,
    },
    /// `base_per_second`, except during the first `burst_s` of every `period_s`, when it is
    /// `burst_per_second`.
    Burst {
        base_per_second: f64,
        burst_per_second: f64,
        period_s: f64,
        burst_s: f64,
    },
    /// `mean + amplitude × sin(2π t / period)`; with a period of 86 400 s, a diurnal cycle.
    Sine {
        mean_per_second: f64,
        amplitude_per_second: f64,
        period_s: f64,
    },
}

impl Default for TrafficPattern {
    fn default() -> Self {
        TrafficPattern::Constant {
            rate_per_second: 10.0,
        }
    }
}

/// Highest rate a pattern may reach: far above what one core generates, low enough that
/// counts stay exact in an `f64`.
pub const RATE_PER_SECOND_MAX: f64 = 10_000_000.0;

impl TrafficPattern {
    /// A constant pattern.
    pub fn constant(rate_per_second: f64) -> Self {
        TrafficPattern::Constant { rate_per_second }
    }

    /// Names accepted by [`TrafficPattern::named`] (the REST `pattern`, `--pattern`).
    pub const NAMES: [&'static str; 4] = ["constant", "ramp", "burst", "sine"];

    /// A pattern of shape `name` whose nominal rate is `rate_per_second`, with fixed
    /// parameters: `ramp` from 0 over 60 s, `burst` ×10 for 10 s every 60 s, `sine` ±80 %
    /// over 600 s. `None` for an unknown name.
    pub fn named(name: &str, rate_per_second: f64) -> Option<Self> {
        Some(match name {
            "constant" => TrafficPattern::constant(rate_per_second),
            "ramp" => TrafficPattern::Ramp {
                from_per_second: 0.0,
                to_per_second: rate_per_second,
                ramp_s: 60.0,
            },
            "burst" => TrafficPattern::Burst {
                base_per_second: rate_per_second,
                burst_per_second: (rate_per_second * 10.0).min(RATE_PER_SECOND_MAX),
                period_s: 60.0,
                burst_s: 10.0,
            },
            "sine" => TrafficPattern::Sine {
                mean_per_second: rate_per_second,
                amplitude_per_second: rate_per_second * 0.8,
                period_s: 600.0,
            },
            _ => return None,
        })
    }

    /// The name of the pattern's shape (`constant`, `ramp`, `burst`, `sine`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            TrafficPattern::Constant { .. } => "constant",
            TrafficPattern::Ramp { .. } => "ramp",
            TrafficPattern::Burst { .. } => "burst",
            TrafficPattern::Sine { .. } => "sine",
        }
    }

    /// Checks the parameters; the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        let rate = |name: &str, v: f64| -> Result<(), String> {
            if !v.is_finite() || !(0.0..=RATE_PER_SECOND_MAX).contains(&v) {
                return Err(format!(
                    "{name} must be within 0..={RATE_PER_SECOND_MAX}, got {v}"
                ));
            }
            Ok(())
        };
        let positive = |name: &str, v: f64| -> Result<(), String> {
            if !v.is_finite() || v <= 0.0 {
                return Err(format!("{name} must be > 0, got {v}"));
            }
            Ok(())
        };
        match *self {
            TrafficPattern::Constant { rate_per_second } => {
                rate("rate_per_second", rate_per_second)
            }
            TrafficPattern::Ramp {
                from_per_second,
                to_per_second,
                ramp_s,
            } => {
                rate("from_per_second", from_per_second)?;
                rate("to_per_second", to_per_second)?;
                positive("ramp_s", ramp_s)
            }
            TrafficPattern::Burst {
                base_per_second,
                burst_per_second,
                period_s,
                burst_s,
            } => {
                rate("base_per_second", base_per_second)?;
                rate("burst_per_second", burst_per_second)?;
                positive("period_s", period_s)?;
                positive("burst_s", burst_s)?;
                if burst_s > period_s {
                    return Err(format!(
                        "burst_s ({burst_s}) is longer than period_s ({period_s})"
                    ));
                }
                Ok(())
            }
            TrafficPattern::Sine {
                mean_per_second,
                amplitude_per_second,
                period_s,
            } => {
                rate("mean_per_second", mean_per_second)?;
                rate("amplitude_per_second", amplitude_per_second)?;
                positive("period_s", period_s)?;
                if amplitude_per_second > mean_per_second {
                    return Err(format!(
                        "amplitude_per_second ({amplitude_per_second}) is above mean_per_second \
                         ({mean_per_second}): the rate would go negative"
                    ));
                }
                Ok(())
            }
        }
    }

    /// The rate the pattern is named after: the constant rate, the ramp's final rate, the
    /// burst's base rate, the sine's mean.
    pub fn nominal_rate_per_second(&self) -> f64 {
        match *self {
            TrafficPattern::Constant { rate_per_second } => rate_per_second,
            TrafficPattern::Ramp { to_per_second, .. } => to_per_second,
            TrafficPattern::Burst {
                base_per_second, ..
            } => base_per_second,
            TrafficPattern::Sine {
                mean_per_second, ..
            } => mean_per_second,
        }
    }

    /// The same shape with every rate multiplied so that the nominal rate becomes
    /// `rate_per_second` (what `POST /simulation/start {rate}` and `--rate` set).
    pub fn scaled_to(&self, rate_per_second: f64) -> Self {
        let nominal = self.nominal_rate_per_second();
        if nominal <= 0.0 {
            return TrafficPattern::constant(rate_per_second);
        }
        let k = rate_per_second / nominal;
        match *self {
            TrafficPattern::Constant { .. } => TrafficPattern::constant(rate_per_second),
            TrafficPattern::Ramp {
                from_per_second,
                to_per_second,
                ramp_s,
            } => TrafficPattern::Ramp {
                from_per_second: from_per_second * k,
                to_per_second: to_per_second * k,
                ramp_s,
            },
            TrafficPattern::Burst {
                base_per_second,
                burst_per_second,
                period_s,
                burst_s,
            } => TrafficPattern::Burst {
                base_per_second: base_per_second * k,
                burst_per_second: burst_per_second * k,
                period_s,
                burst_s,
            },
            TrafficPattern::Sine {
                mean_per_second,
                amplitude_per_second,
                period_s,
            } => TrafficPattern::Sine {
                mean_per_second: mean_per_second * k,
                amplitude_per_second: amplitude_per_second * k,
                period_s,
            },
        }
    }

    /// Target rate at `elapsed` since the start, in events per second.
    pub fn rate_at(&self, elapsed: Duration) -> f64 {
        let t = elapsed.as_secs_f64();
        match *self {
            TrafficPattern::Constant { rate_per_second } => rate_per_second,
            TrafficPattern::Ramp {
                from_per_second,
                to_per_second,
                ramp_s,
            } => {
                if t >= ramp_s {
                    to_per_second
                } else {
                    from_per_second + (to_per_second - from_per_second) * t / ramp_s
                }
            }
            TrafficPattern::Burst {
                base_per_second,
                burst_per_second,
                period_s,
                burst_s,
            } => {
                if t.rem_euclid(period_s) < burst_s {
                    burst_per_second
                } else {
                    base_per_second
                }
            }
            TrafficPattern::Sine {
                mean_per_second,
                amplitude_per_second,
                period_s,
            } => (mean_per_second + amplitude_per_second * (TAU * t / period_s).sin()).max(0.0),
        }
    }

    /// Events the pattern asks for between the start and `elapsed`: the exact integral of
    /// [`TrafficPattern::rate_at`].
    pub fn events_until(&self, elapsed: Duration) -> f64 {
        let t = elapsed.as_secs_f64();
        match *self {
            TrafficPattern::Constant { rate_per_second } => rate_per_second * t,
            TrafficPattern::Ramp {
                from_per_second,
                to_per_second,
                ramp_s,
            } => {
                let slope = (to_per_second - from_per_second) / ramp_s;
                if t <= ramp_s {
                    from_per_second * t + slope * t * t / 2.0
                } else {
                    (from_per_second + to_per_second) * ramp_s / 2.0 + to_per_second * (t - ramp_s)
                }
            }
            TrafficPattern::Burst {
                base_per_second,
                burst_per_second,
                period_s,
                burst_s,
            } => {
                let periods = (t / period_s).floor();
                let rest_s = t - periods * period_s;
                let per_period =
                    burst_per_second * burst_s + base_per_second * (period_s - burst_s);
                periods * per_period
                    + burst_per_second * rest_s.min(burst_s)
                    + base_per_second * (rest_s - burst_s).max(0.0)
            }
            TrafficPattern::Sine {
                mean_per_second,
                amplitude_per_second,
                period_s,
            } => {
                mean_per_second * t
                    + amplitude_per_second * period_s / TAU * (1.0 - (TAU * t / period_s).cos())
            }
        }
    }
}

/// Limits of a [`Pacer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacerLimits {
    /// Most events handed out by one [`Pacer::due`] call; the rest stay due for the next.
    pub batch_size_max: u64,
    /// Most events allowed to stay due when the producer falls behind; beyond, the pacer
    /// forgets the excess (counted in [`Pacer::events_skipped_total`]) instead of bursting.
    pub backlog_events_max: u64,
    /// Window over which [`Pacer::rate_actual_per_second`] is measured.
    pub rate_window: Duration,
}

impl Default for PacerLimits {
    fn default() -> Self {
        Self {
            batch_size_max: 1_024,
            backlog_events_max: 100_000,
            rate_window: Duration::from_secs(1),
        }
    }
}

/// Suggested time between two [`Pacer::due`] calls: 5 ms, so 50 000 events/s come in batches
/// of about 250 and 1 event/s costs 200 cheap calls per second.
pub const PACER_TICK: Duration = Duration::from_millis(5);

/// Says how many events are due now, given the elapsed time, and measures the actual rate.
#[derive(Debug, Clone)]
pub struct Pacer {
    pattern: TrafficPattern,
    limits: PacerLimits,
    /// Events emitted or skipped so far; what the integral is compared with.
    events_accounted_total: u64,
    events_emitted_total: u64,
    events_skipped_total: u64,
    /// (elapsed, events_emitted_total) checkpoints over the last `rate_window`, at least
    /// `SAMPLE_INTERVAL` apart, at most `SAMPLES_MAX`.
    samples: VecDeque<(Duration, u64)>,
    /// The most recent (elapsed, events_emitted_total).
    latest: (Duration, u64),
}

const SAMPLE_INTERVAL: Duration = Duration::from_millis(10);
const SAMPLES_MAX: usize = 4_096;

impl Pacer {
    pub fn new(pattern: TrafficPattern) -> Self {
        Self::with_limits(pattern, PacerLimits::default())
    }

    pub fn with_limits(pattern: TrafficPattern, limits: PacerLimits) -> Self {
        Self {
            pattern,
            limits,
            events_accounted_total: 0,
            events_emitted_total: 0,
            events_skipped_total: 0,
            samples: VecDeque::new(),
            latest: (Duration::ZERO, 0),
        }
    }

    pub fn pattern(&self) -> &TrafficPattern {
        &self.pattern
    }

    /// Events to emit now, `elapsed` after the start. The caller is expected to emit them all
    /// (they are counted as emitted).
    pub fn due(&mut self, elapsed: Duration) -> u64 {
        // The epsilon absorbs floating error so that 1 event/s gives exactly 10 at t = 10 s.
        let target = (self.pattern.events_until(elapsed) + 1e-6).floor();
        let target = if target.is_finite() && target > 0.0 {
            target as u64
        } else {
            0
        };
        let mut backlog = target.saturating_sub(self.events_accounted_total);
        if backlog > self.limits.backlog_events_max {
            let skipped = backlog - self.limits.backlog_events_max;
            self.events_skipped_total += skipped;
            self.events_accounted_total += skipped;
            backlog = self.limits.backlog_events_max;
        }
        let batch = backlog.min(self.limits.batch_size_max);
        self.events_accounted_total += batch;
        self.events_emitted_total += batch;
        self.record_sample(elapsed);
        batch
    }

    fn record_sample(&mut self, elapsed: Duration) {
        self.latest = (elapsed, self.events_emitted_total);
        let push = self
            .samples
            .back()
            .is_none_or(|(at, _)| elapsed.saturating_sub(*at) >= SAMPLE_INTERVAL);
        if push {
            self.samples.push_back(self.latest);
        }
        while self.samples.len() > 1
            && (elapsed.saturating_sub(self.samples[1].0) >= self.limits.rate_window
                || self.samples.len() > SAMPLES_MAX)
        {
            self.samples.pop_front();
        }
    }

    /// Events per second actually handed out over the last `rate_window` (or since the start
    /// when shorter). Zero before two samples exist.
    pub fn rate_actual_per_second(&self) -> f64 {
        let (t1, n1) = self.latest;
        match self.samples.front() {
            Some(&(t0, n0)) if t1 > t0 => (n1 - n0) as f64 / (t1 - t0).as_secs_f64(),
            _ => 0.0,
        }
    }

    pub fn events_emitted_total(&self) -> u64 {
        self.events_emitted_total
    }

    /// Events the pattern asked for but that were dropped because the backlog was full.
    pub fn events_skipped_total(&self) -> u64 {
        self.events_skipped_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(pattern: TrafficPattern, window: Duration, tick: Duration) -> (u64, Pacer) {
        let mut pacer = Pacer::new(pattern);
        let mut now = Duration::ZERO;
        let mut total = 0;
        while now < window {
            now += tick;
            total += pacer.due(now);
        }
        (total, pacer)
    }

    #[test]
    fn integrals_match_a_numeric_sum() {
        let patterns = [
            TrafficPattern::constant(123.0),
            TrafficPattern::Ramp {
                from_per_second: 10.0,
                to_per_second: 1_000.0,
                ramp_s: 3.0,
            },
            TrafficPattern::Burst {
                base_per_second: 100.0,
                burst_per_second: 5_000.0,
                period_s: 2.0,
                burst_s: 0.25,
            },
            TrafficPattern::Sine {
                mean_per_second: 500.0,
                amplitude_per_second: 400.0,
                period_s: 1.7,
            },
        ];
        for pattern in patterns {
            let step = Duration::from_micros(100);
            let mut sum = 0.0;
            let mut t = Duration::ZERO;
            while t < Duration::from_secs(5) {
                sum += pattern.rate_at(t + step / 2) * step.as_secs_f64();
                t += step;
            }
            let exact = pattern.events_until(Duration::from_secs(5));
            assert!(
                (sum - exact).abs() / exact < 0.002,
                "{pattern:?}: {sum} vs {exact}"
            );
        }
    }

    #[test]
    fn one_event_per_second_gives_ten_in_ten_seconds() {
        let (total, _) = drive(
            TrafficPattern::constant(1.0),
            Duration::from_secs(10),
            PACER_TICK,
        );
        assert_eq!(total, 10);
    }

    #[test]
    fn actual_rate_is_measured() {
        let (_, pacer) = drive(
            TrafficPattern::constant(2_000.0),
            Duration::from_secs(3),
            PACER_TICK,
        );
        let rate = pacer.rate_actual_per_second();
        assert!((rate - 2_000.0).abs() < 40.0, "{rate}");
    }

    #[test]
    fn backlog_is_bounded() {
        let limits = PacerLimits {
            batch_size_max: 100,
            backlog_events_max: 1_000,
            rate_window: Duration::from_secs(1),
        };
        let mut pacer = Pacer::with_limits(TrafficPattern::constant(10_000.0), limits);
        // A stall of 2 s: 20 000 due, only the last 1 000 kept.
        assert_eq!(pacer.due(Duration::from_secs(2)), 100);
        assert_eq!(pacer.events_skipped_total(), 19_000);
    }

    #[test]
    fn scaling_keeps_the_shape() {
        let pattern = TrafficPattern::Sine {
            mean_per_second: 100.0,
            amplitude_per_second: 50.0,
            period_s: 60.0,
        };
        let scaled = pattern.scaled_to(10.0);
        assert_eq!(scaled.nominal_rate_per_second(), 10.0);
        assert!(scaled.validate().is_ok());
    }

    #[test]
    fn invalid_patterns_name_the_field() {
        let err = TrafficPattern::Sine {
            mean_per_second: 1.0,
            amplitude_per_second: 2.0,
            period_s: 1.0,
        }
        .validate()
        .unwrap_err();
        assert!(err.starts_with("amplitude_per_second"), "{err}");
    }
}
