//! Amount distributions per kind of operation. Owns the shapes (log-normal around a median,
//! rounded to a step, clamped to a range); draws come from the RNG the caller passes in.
//!
//! Amounts are whole cents (`i64`) inside the simulator, turned into `Decimal` at scale 2
//! only when an event is built: cheaper to compare and add, and never a rounding surprise.
//! The figures and their reasons are in `docs/simulator.md`.

use rand::Rng;
use rand_distr::StandardNormal;
use rust_decimal::Decimal;
use serde::Deserialize;

/// A log-normal distribution of amounts: `exp(ln(median) + sigma × Z)`, rounded to `step_eur`
/// and clamped to `[min_eur, max_eur]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountModel {
    /// Half of the draws are below this amount.
    pub median_eur: f64,
    /// Spread of `ln(amount)`; 0.5 is narrow (premiums), 1.2 is wide (transfers).
    pub sigma: f64,
    pub min_eur: f64,
    pub max_eur: f64,
    /// Rounding step (0.01 for cents, 20 for ATM notes).
    #[serde(default = "default_step_eur")]
    pub step_eur: f64,
}

fn default_step_eur() -> f64 {
    0.01
}

impl AmountModel {
    pub const fn new(
        median_eur: f64,
        sigma: f64,
        min_eur: f64,
        max_eur: f64,
        step_eur: f64,
    ) -> Self {
        Self {
            median_eur,
            sigma,
            min_eur,
            max_eur,
            step_eur,
        }
    }

    /// Checks the parameters; the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        let finite = [
            self.median_eur,
            self.sigma,
            self.min_eur,
            self.max_eur,
            self.step_eur,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !finite {
            return Err("every field must be a finite number".into());
        }
        if self.step_eur < 0.01 {
            return Err(format!(
                "step_eur must be at least 0.01, got {}",
                self.step_eur
            ));
        }
        if self.min_eur < self.step_eur {
            return Err(format!(
                "min_eur ({}) must be at least step_eur ({})",
                self.min_eur, self.step_eur
            ));
        }
        if self.max_eur < self.min_eur {
            return Err(format!(
                "max_eur ({}) is below min_eur ({})",
                self.max_eur, self.min_eur
            ));
        }
        if self.median_eur <= 0.0 || self.sigma < 0.0 {
            return Err("median_eur must be > 0 and sigma >= 0".into());
        }
        if self.max_eur > 1e12 {
            return Err(format!("max_eur ({}) is above 1e12", self.max_eur));
        }
        Ok(())
    }

    /// Draws an amount in cents.
    pub fn sample_cents<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        let z: f64 = rng.sample(StandardNormal);
        let eur = (self.median_eur.ln() + self.sigma * z).exp();
        let step_cents = eur_to_cents(self.step_eur).max(1);
        let min_cents = round_up_to(eur_to_cents(self.min_eur), step_cents);
        let max_cents = (eur_to_cents(self.max_eur) / step_cents) * step_cents;
        let cents = ((eur * 100.0 / step_cents as f64).round() as i64) * step_cents;
        cents.clamp(min_cents, max_cents.max(min_cents))
    }
}

fn eur_to_cents(eur: f64) -> i64 {
    (eur * 100.0).round() as i64
}

fn round_up_to(value: i64, step: i64) -> i64 {
    value.div_euclid(step) * step + if value.rem_euclid(step) == 0 { 0 } else { step }
}

/// Whole cents to a `Decimal` at scale 2.
pub fn cents_to_decimal(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// The amount models of the banking events, overridable per scenario.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankingAmounts {
    /// Balance an account is opened with, when not opened empty.
    pub initial_balance: AmountModel,
    /// Share of accounts opened with a zero balance.
    pub initial_balance_zero_share: f64,
    pub deposit: AmountModel,
    /// Cash withdrawals at a cash machine: notes, so multiples of 20 €.
    pub withdrawal_atm: AmountModel,
    /// Withdrawals at the counter or by card payment.
    pub withdrawal_counter: AmountModel,
    /// Share of withdrawals made at a cash machine.
    pub withdrawal_atm_share: f64,
    pub transfer: AmountModel,
    pub premium: AmountModel,
}

impl Default for BankingAmounts {
    fn default() -> Self {
        Self {
            initial_balance: AmountModel::new(800.0, 1.2, 10.0, 250_000.0, 0.01),
            initial_balance_zero_share: 0.3,
            deposit: AmountModel::new(150.0, 1.0, 5.0, 50_000.0, 0.01),
            withdrawal_atm: AmountModel::new(60.0, 0.6, 20.0, 1_000.0, 20.0),
            withdrawal_counter: AmountModel::new(45.0, 1.0, 1.0, 5_000.0, 0.01),
            withdrawal_atm_share: 0.6,
            transfer: AmountModel::new(300.0, 1.1, 1.0, 100_000.0, 0.01),
            premium: AmountModel::new(40.0, 0.6, 5.0, 2_000.0, 0.01),
        }
    }
}

impl BankingAmounts {
    pub fn validate(&self) -> Result<(), String> {
        let models = [
            ("initial_balance", &self.initial_balance),
            ("deposit", &self.deposit),
            ("withdrawal_atm", &self.withdrawal_atm),
            ("withdrawal_counter", &self.withdrawal_counter),
            ("transfer", &self.transfer),
            ("premium", &self.premium),
        ];
        for (name, model) in models {
            model.validate().map_err(|e| format!("{name}: {e}"))?;
        }
        for (name, share) in [
            (
                "initial_balance_zero_share",
                self.initial_balance_zero_share,
            ),
            ("withdrawal_atm_share", self.withdrawal_atm_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must be within 0..=1, got {share}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn median_is_close_to_configured_and_range_holds() {
        let model = AmountModel::new(150.0, 1.0, 5.0, 50_000.0, 0.01);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut draws: Vec<i64> = (0..20_001).map(|_| model.sample_cents(&mut rng)).collect();
        draws.sort_unstable();
        let median_eur = draws[10_000] as f64 / 100.0;
        assert!((135.0..165.0).contains(&median_eur), "median {median_eur}");
        assert!(draws.iter().all(|c| (500..=5_000_000).contains(c)));
    }

    #[test]
    fn atm_withdrawals_are_multiples_of_twenty() {
        let model = BankingAmounts::default().withdrawal_atm;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..10_000 {
            let cents = model.sample_cents(&mut rng);
            assert_eq!(cents % 2_000, 0, "{cents}");
            assert!((2_000..=100_000).contains(&cents));
        }
    }

    #[test]
    fn decimal_has_scale_two() {
        assert_eq!(cents_to_decimal(12_345).to_string(), "123.45");
        assert_eq!(cents_to_decimal(2_000).scale(), 2);
    }

    #[test]
    fn bad_model_names_the_field() {
        let amounts = BankingAmounts {
            deposit: AmountModel::new(10.0, 1.0, 50.0, 20.0, 0.01),
            ..BankingAmounts::default()
        };
        let err = amounts.validate().unwrap_err();
        assert!(err.starts_with("deposit: max_eur"), "{err}");
    }
}
