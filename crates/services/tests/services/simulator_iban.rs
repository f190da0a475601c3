//! S3-06: generated IBANs are valid French IBANs, checked by an independent crate.

use edalab_services::simulator::FakeData;
use edalab_services::simulator::iban::{is_valid_french_iban, rib_key};
use iban::{Iban, IbanLike};

#[test]
fn ten_thousand_generated_ibans_are_valid() {
    let seed = 20_260_105;
    let mut fake = FakeData::new(seed);
    for i in 0..10_000 {
        let text = fake.iban();
        let parsed: Iban = text
            .parse()
            .unwrap_or_else(|e| panic!("seed {seed}, IBAN #{i} {text}: {e:?}"));
        assert_eq!(parsed.country_code(), "FR");
        assert_eq!(parsed.electronic_str(), text);
        let bban = &text[4..];
        let key: u8 = bban[21..].parse().unwrap();
        assert_eq!(
            rib_key(&bban[..5], &bban[5..10], &bban[10..21]),
            Some(key),
            "seed {seed}: RIB key of {text}"
        );
        assert!(is_valid_french_iban(&text));
    }
}

#[test]
fn a_corrupted_iban_is_refused_by_both_checks() {
    let mut fake = FakeData::new(9);
    let text = fake.iban();
    let mut bytes = text.into_bytes();
    // Change one digit of the account number.
    bytes[20] = if bytes[20] == b'1' { b'2' } else { b'1' };
    let corrupted = String::from_utf8(bytes).unwrap();
    assert!(corrupted.parse::<Iban>().is_err());
    assert!(!is_valid_french_iban(&corrupted));
}
