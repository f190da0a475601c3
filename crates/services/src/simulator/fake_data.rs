//! Realistic French fake data (S3-06): names, client and account ids, IBANs, operation
//! references and amounts. Owns the simulator's only random stream, a seeded
//! [`ChaCha8Rng`]; never touches `thread_rng` or the system clock, so a seed replays
//! every value.
//!
//! Names come from the `fake` crate's `FR_FR` locale (about 1 000 first names from INSEE
//! and 870 surnames from data.gouv.fr), read as static slices so a pick never allocates.

use chrono::{DateTime, Utc};
use fake::locales::{Data, FR_FR};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::amounts::{AmountModel, cents_to_decimal};
use super::iban::french_iban;

/// Bank codes (code établissement) of large French banks, so IBANs look familiar.
const BANK_CODES: &[&str] = &[
    "30004", // BNP Paribas
    "30003", // Société Générale
    "30002", // LCL
    "20041", // La Banque Postale
    "10278", // Crédit Mutuel
    "30066", // CIC
    "11306", // Crédit Agricole
    "13335", // Caisse d'Épargne
    "10107", // BRED
    "17515", // Caisse d'Épargne Île-de-France
    "16958", // Boursorama
    "14505", // Crédit Coopératif
];

/// Crockford base 32: no I, L, O or U, so references read aloud without confusion.
const REFERENCE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const REFERENCE_RANDOM_LEN: usize = 10;

/// French first and last names, ids, IBANs, references and amounts from one seeded stream.
#[derive(Debug, Clone)]
pub struct FakeData {
    rng: ChaCha8Rng,
}

impl FakeData {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The random stream, for decisions that are not fake data (which event comes next).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    pub fn first_name(&mut self) -> &'static str {
        pick(&mut self.rng, FR_FR::NAME_FIRST_NAME)
    }

    pub fn last_name(&mut self) -> &'static str {
        pick(&mut self.rng, FR_FR::NAME_LAST_NAME)
    }

    /// "Prénom Nom".
    pub fn full_name(&mut self) -> String {
        let first = self.first_name();
        let last = self.last_name();
        format!("{first} {last}")
    }

    /// A client id such as `CLI-0048213977`. Unique enough for a run (10¹⁰ values); the
    /// account book rejects the rare collision.
    pub fn client_id(&mut self) -> String {
        format!("CLI-{:010}", self.rng.gen_range(0..10_000_000_000_u64))
    }

    /// A UUID v7 whose time part is `at` and whose 74 random bits come from the seeded stream:
    /// sortable by creation time and reproducible.
    pub fn uuid_v7(&mut self, at: DateTime<Utc>) -> Uuid {
        let mut random_bytes = [0_u8; 10];
        self.rng.fill(&mut random_bytes);
        let unix_ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(unix_ms, &random_bytes).into_uuid()
    }

    /// A valid French IBAN: a known bank code, a random branch, an 11-character account
    /// number (digits, with a letter in one case out of ten as some banks issue), RIB key and
    /// ISO 13616 check digits.
    pub fn iban(&mut self) -> String {
        let bank = pick(&mut self.rng, BANK_CODES);
        let branch = format!("{:05}", self.rng.gen_range(0..100_000_u32));
        let mut account = [0_u8; 11];
        for byte in account.iter_mut() {
            *byte = b'0' + self.rng.gen_range(0..10_u8);
        }
        if self.rng.gen_bool(0.1) {
            let at = self.rng.gen_range(0..account.len());
            account[at] = b'A' + self.rng.gen_range(0..26_u8);
        }
        // The parts are ASCII of the right lengths by construction, so both conversions hold;
        // the fallback keeps the function total without a panic path.
        let account = std::str::from_utf8(&account).unwrap_or("00000000000");
        french_iban(bank, &branch, account).unwrap_or_else(|| "FR7630004000031234567890143".into())
    }

    /// An operation reference: a kind prefix, the value date and 10 random base-32
    /// characters, e.g. `VIR-20260105-7K2Q9XM4TB`.
    pub fn reference(&mut self, prefix: &str, at: DateTime<Utc>) -> String {
        let mut random = [0_u8; REFERENCE_RANDOM_LEN];
        for byte in random.iter_mut() {
            *byte = REFERENCE_ALPHABET[self.rng.gen_range(0..REFERENCE_ALPHABET.len())];
        }
        let random = std::str::from_utf8(&random).unwrap_or("0000000000");
        format!("{prefix}-{}-{random}", at.format("%Y%m%d"))
    }

    /// An amount drawn from `model`, in cents.
    pub fn amount_cents(&mut self, model: &AmountModel) -> i64 {
        model.sample_cents(&mut self.rng)
    }

    /// An amount drawn from `model` as a `Decimal` at scale 2.
    pub fn amount(&mut self, model: &AmountModel) -> Decimal {
        cents_to_decimal(self.amount_cents(model))
    }
}

/// A uniformly chosen element; `""` for an empty slice (never the case for the lists here).
pub(crate) fn pick<R: Rng + ?Sized>(rng: &mut R, items: &[&'static str]) -> &'static str {
    if items.is_empty() {
        return "";
    }
    items[rng.gen_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::iban::is_valid_french_iban;

    #[test]
    fn name_lists_are_sizeable() {
        assert!(FR_FR::NAME_FIRST_NAME.len() >= 200);
        assert!(FR_FR::NAME_LAST_NAME.len() >= 200);
    }

    #[test]
    fn ibans_are_valid_and_reproducible() {
        let mut a = FakeData::new(42);
        let mut b = FakeData::new(42);
        for _ in 0..1_000 {
            let iban = a.iban();
            assert!(is_valid_french_iban(&iban), "{iban}");
            assert_eq!(iban, b.iban());
        }
    }

    #[test]
    fn reference_has_the_documented_shape() {
        let mut fake = FakeData::new(1);
        let at = DateTime::<Utc>::from_timestamp_millis(1_767_600_000_000).unwrap();
        let reference = fake.reference("VIR", at);
        assert_eq!(
            reference.len(),
            "VIR-20260105-".len() + REFERENCE_RANDOM_LEN
        );
        assert!(reference.starts_with("VIR-2026"));
    }

    #[test]
    fn uuid_v7_carries_the_clock_time() {
        let mut fake = FakeData::new(3);
        let at = DateTime::<Utc>::from_timestamp_millis(1_767_600_000_000).unwrap();
        let id = fake.uuid_v7(at);
        assert_eq!(id.get_version_num(), 7);
        let (secs, _) = id.get_timestamp().unwrap().to_unix();
        assert_eq!(secs, 1_767_600_000);
    }
}
