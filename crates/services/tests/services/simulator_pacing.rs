//! the pacer holds the target rate within ±2 % over a 10 s window, from 1 to 50 000
//! events/s, driven by an injected clock ticking every 1–10 ms.

use std::time::Duration;

use edalab_services::simulator::{Clock, ManualClock, PACER_TICK, Pacer, TrafficPattern};

/// Runs a pacer for `window` on a manual clock advanced by `tick`; answers the events due.
fn run(pattern: TrafficPattern, window: Duration, tick: Duration) -> (u64, Pacer) {
    let clock = ManualClock::fixed(ManualClock::default_start());
    let mut pacer = Pacer::new(pattern);
    let mut total = 0;
    while clock.monotonic() < window {
        clock.advance(tick);
        total += pacer.due(clock.monotonic());
    }
    (total, pacer)
}

#[test]
fn constant_rates_are_held_within_two_percent() {
    let window = Duration::from_secs(10);
    for rate in [1.0, 100.0, 10_000.0, 50_000.0] {
        for tick in [
            Duration::from_millis(1),
            PACER_TICK,
            Duration::from_millis(10),
        ] {
            let (total, pacer) = run(TrafficPattern::constant(rate), window, tick);
            let target = rate * window.as_secs_f64();
            let error = (total as f64 - target).abs() / target;
            assert!(
                error <= 0.02,
                "rate {rate}/s, tick {tick:?}: {total} events for {target} expected"
            );
            if rate >= 100.0 {
                let actual = pacer.rate_actual_per_second();
                assert!(
                    (actual - rate).abs() / rate <= 0.02,
                    "rate {rate}/s, tick {tick:?}: rate_actual {actual}"
                );
            }
        }
    }
}

#[test]
fn shaped_patterns_deliver_their_integral() {
    let window = Duration::from_secs(10);
    let patterns = [
        TrafficPattern::Ramp {
            from_per_second: 100.0,
            to_per_second: 50_000.0,
            ramp_s: 8.0,
        },
        TrafficPattern::Burst {
            base_per_second: 100.0,
            burst_per_second: 20_000.0,
            period_s: 3.0,
            burst_s: 0.5,
        },
        TrafficPattern::Sine {
            mean_per_second: 1_000.0,
            amplitude_per_second: 900.0,
            period_s: 4.0,
        },
    ];
    for pattern in patterns {
        let (total, pacer) = run(pattern, window, PACER_TICK);
        let target = pattern.events_until(window);
        assert!(
            (total as f64 - target).abs() / target <= 0.02,
            "{pattern:?}: {total} vs {target}"
        );
        assert_eq!(pacer.events_skipped_total(), 0, "{pattern:?}");
    }
}

#[test]
fn burst_is_visible_in_the_rate() {
    let pattern = TrafficPattern::Burst {
        base_per_second: 10.0,
        burst_per_second: 1_000.0,
        period_s: 10.0,
        burst_s: 2.0,
    };
    assert_eq!(pattern.rate_at(Duration::from_millis(1_500)), 1_000.0);
    assert_eq!(pattern.rate_at(Duration::from_millis(2_500)), 10.0);
    assert_eq!(pattern.rate_at(Duration::from_millis(10_500)), 1_000.0);
}
