//! The simulator's scenario parser (`Scenario::parse`, TOML) on arbitrary text.
//!
//! Beyond "no panic while parsing": a scenario the parser accepts is one the simulator can
//! run, so each accepted scenario builds a `Simulator` and generates a few items. A panic
//! there means validation let through a setting the generator cannot use.
#![no_main]

use chrono::DateTime;
use edalab_services::simulator::{ManualClock, Scenario, Simulator};
use libfuzzer_sys::fuzz_target;

/// Items generated per accepted scenario: enough to touch every enabled section's generator
/// a few times, few enough to keep thousands of executions a second.
const ITEMS_PER_SCENARIO: usize = 32;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = Scenario::parse("fuzz", text) else {
        return;
    };
    let clock = ManualClock::fixed(DateTime::UNIX_EPOCH);
    // Weights that pass validation may still be refused here, with an error: that is fine.
    if let Ok(mut simulator) = Simulator::new(scenario, 7, clock) {
        let items = simulator.next_batch(ITEMS_PER_SCENARIO);
        assert_eq!(items.len(), ITEMS_PER_SCENARIO);
    }
});
