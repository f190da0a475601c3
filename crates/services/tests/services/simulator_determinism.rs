//! S3-06 / X-06: the same seed, scenario and clock give the same bytes; another seed does not.

use std::time::Duration;

use edalab_services::simulator::{ItemEncoder, ManualClock, Scenario, Simulator};

fn encoded(scenario: &str, seed: u64, n: usize) -> Vec<(String, String, Vec<u8>)> {
    let clock = ManualClock::stepping(ManualClock::default_start(), Duration::from_millis(3));
    let mut simulator = Simulator::new(Scenario::builtin(scenario).unwrap(), seed, clock).unwrap();
    let encoder = ItemEncoder::builtin().unwrap();
    simulator
        .next_batch(n)
        .iter()
        .map(|item| {
            (
                item.topic().to_string(),
                item.key.clone(),
                encoder.encode(item).unwrap(),
            )
        })
        .collect()
}

#[test]
fn same_seed_gives_identical_bytes() {
    for scenario in ["banking-day", "fraud-burst"] {
        let a = encoded(scenario, 42, 10_000);
        let b = encoded(scenario, 42, 10_000);
        assert_eq!(a.len(), 10_000);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "scenario {scenario}, seed 42: item #{i} differs");
        }
    }
}

#[test]
fn different_seeds_differ() {
    let a = encoded("default", 1, 1_000);
    let b = encoded("default", 2, 1_000);
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    assert_eq!(same, 0, "{same} identical items between seeds 1 and 2");
}
