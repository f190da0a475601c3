//! French IBANs: the RIB key of the BBAN and the ISO 13616 mod-97 check digits.
//! Pure arithmetic, no randomness; `fake_data` chooses the bank, branch and account number.
//!
//! A French IBAN is `FR` + 2 check digits + BBAN (23 chars): bank code (5 digits), branch
//! code (5 digits), account number (11 digits or capital letters) and RIB key (2 digits).

/// Length of a French IBAN in its electronic form.
pub const FRENCH_IBAN_LEN: usize = 27;

/// The letter-to-digit mapping of the French RIB: A,J→1 B,K,S→2 … I,R,Z→9.
fn rib_digit(c: u8) -> Option<u64> {
    match c {
        b'0'..=b'9' => Some(u64::from(c - b'0')),
        b'A'..=b'I' => Some(u64::from(c - b'A') + 1),
        b'J'..=b'R' => Some(u64::from(c - b'J') + 1),
        b'S'..=b'Z' => Some(u64::from(c - b'S') + 2),
        _ => None,
    }
}

/// `n mod 97` of a decimal string given digit by digit.
fn mod97_of_digits(digits: impl Iterator<Item = u64>) -> u64 {
    digits.fold(0, |acc, d| (acc * 10 + d) % 97)
}

/// RIB key: `97 − ((89 × bank + 15 × branch + 3 × account) mod 97)`, letters of the account
/// number mapped with the RIB table. `None` if a part has the wrong length or characters.
pub fn rib_key(bank_code: &str, branch_code: &str, account_number: &str) -> Option<u8> {
    let numeric = |s: &str, len: usize| -> Option<u64> {
        if s.len() != len {
            return None;
        }
        let digits: Option<Vec<u64>> = s.bytes().map(rib_digit).collect();
        Some(mod97_of_digits(digits?.into_iter()))
    };
    let bank = numeric(bank_code, 5)?;
    let branch = numeric(branch_code, 5)?;
    let account = numeric(account_number, 11)?;
    let rest = (89 * bank + 15 * branch + 3 * account) % 97;
    u8::try_from(97 - rest).ok()
}

/// ISO 13616 check digits of `country` + `bban`: rearrange (BBAN, country, "00"), turn
/// letters into 10..35, take mod 97, answer `98 − rest`.
pub fn iban_check_digits(country: &str, bban: &str) -> Option<u8> {
    let mut acc: u64 = 0;
    for c in bban.bytes().chain(country.bytes()).chain(*b"00") {
        match c {
            b'0'..=b'9' => acc = (acc * 10 + u64::from(c - b'0')) % 97,
            b'A'..=b'Z' => acc = (acc * 100 + u64::from(c - b'A') + 10) % 97,
            _ => return None,
        }
    }
    u8::try_from(98 - acc).ok()
}

/// Builds a French IBAN from its parts, computing the RIB key and the check digits.
pub fn french_iban(bank_code: &str, branch_code: &str, account_number: &str) -> Option<String> {
    let key = rib_key(bank_code, branch_code, account_number)?;
    let bban = format!("{bank_code}{branch_code}{account_number}{key:02}");
    let check = iban_check_digits("FR", &bban)?;
    Some(format!("FR{check:02}{bban}"))
}

/// True if `iban` is a French IBAN with a correct RIB key and correct check digits.
pub fn is_valid_french_iban(iban: &str) -> bool {
    if iban.len() != FRENCH_IBAN_LEN || !iban.is_ascii() || !iban.starts_with("FR") {
        return false;
    }
    let bban = &iban[4..];
    let Ok(check) = iban[2..4].parse::<u8>() else {
        return false;
    };
    let Ok(key) = bban[21..23].parse::<u8>() else {
        return false;
    };
    rib_key(&bban[0..5], &bban[5..10], &bban[10..21]) == Some(key)
        && iban_check_digits("FR", bban) == Some(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_french_iban_is_rebuilt() {
        // The example IBAN of the ISO 13616 registry for France.
        assert_eq!(
            french_iban("20041", "01005", "0500013M026").as_deref(),
            Some("FR1420041010050500013M02606")
        );
        assert!(is_valid_french_iban("FR1420041010050500013M02606"));
        assert!(!is_valid_french_iban("FR1420041010050500013M02607"));
        assert!(!is_valid_french_iban("FR1520041010050500013M02606"));
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert_eq!(rib_key("2004", "01005", "0500013M026"), None);
        assert_eq!(french_iban("20041", "01005", "0500013m026"), None);
    }
}
