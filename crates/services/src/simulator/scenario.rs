//! Scenario files (`scenarios/*.toml`): what traffic to generate and in which proportions.
//! Owns parsing (`deny_unknown_fields`, so a typo is an error naming the key) and validation
//! (shares within 0..=1, weights ≥ 0, …, each error naming the dotted key), and the
//! [`ScenarioCatalogue`]: which scenarios a client may choose, by name only. Knows nothing
//! of how events are built; `generator` reads the settings.
//!
//! Names, not paths (ADR 019): a client of the REST API picks a scenario by a
//! [`ScenarioName`] (`[a-z0-9-]`, 1 to 64 characters, no `/`, no `..`), looked up in the
//! scenarios folder and then among the built-ins; only the local user of the CLI may name
//! a file by its path ([`ScenarioSource::LocalFile`]). Every read is bounded
//! ([`SCENARIO_BYTES_MAX`], regular files only), and no error quotes a file's content:
//! a TOML error says what and where (line, column), not the text around it.
//!
//! The format is documented in `docs/simulator.md`. Every section but the top-level names is
//! optional; a scenario with no traffic section at all is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::amounts::{AmountModel, BankingAmounts};
use super::pattern::TrafficPattern;

/// Scenario files shipped with edalab, compiled in so a bare name always resolves.
pub const BUILTIN_SCENARIOS: &[(&str, &str)] = &[
    (
        "default",
        include_str!("../../../../scenarios/default.toml"),
    ),
    (
        "banking-day",
        include_str!("../../../../scenarios/banking-day.toml"),
    ),
    (
        "fraud-burst",
        include_str!("../../../../scenarios/fraud-burst.toml"),
    ),
    (
        "transactions",
        include_str!("../../../../scenarios/transactions.toml"),
    ),
    (
        "calculator",
        include_str!("../../../../scenarios/calculator.toml"),
    ),
    (
        "order-files",
        include_str!("../../../../scenarios/order-files.toml"),
    ),
    ("orders", include_str!("../../../../scenarios/orders.toml")),
];

/// Most accounts the account book may hold, whatever the scenario says (about 100 bytes
/// each plus ids: 1 000 000 accounts stay under 200 MiB).
pub const ACCOUNTS_MAX_LIMIT: u32 = 1_000_000;

/// Largest scenario file read, bytes (the shipped ones are under 4 KiB).
pub const SCENARIO_BYTES_MAX: u64 = 1024 * 1024;

/// Longest scenario name, characters.
pub const SCENARIO_NAME_CHARS_MAX: usize = 64;

/// Most files of the scenarios folder looked at when listing the catalogue.
const CATALOGUE_ENTRIES_MAX: usize = 1_000;

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not TOML, or not the scenario format: what and where, never the text around it.
    #[error("scenario {source_name}: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("scenario {source_name}: `{key}`: {message}")]
    Invalid {
        source_name: String,
        key: String,
        message: String,
    },
    #[error("scenario {path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario {path}: not a regular file")]
    NotAFile { path: String },
    #[error("scenario {path}: larger than {SCENARIO_BYTES_MAX} bytes")]
    TooLarge { path: String },
    #[error("scenario {path}: not UTF-8 text")]
    NotText { path: String },
    /// Not a scenario name (a path, `..`, a control character, too long…).
    #[error(
        "a scenario is chosen by name: 1 to {SCENARIO_NAME_CHARS_MAX} lower-case letters, digits \
         and `-`, not a path (one of {})",
        known.join(", ")
    )]
    InvalidName { known: Vec<String> },
    #[error("unknown scenario `{name}` (one of {})", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
}

/// A scenario's name in the catalogue: 1 to [`SCENARIO_NAME_CHARS_MAX`] characters of
/// `[a-z0-9-]`, not starting with `-`. It cannot hold `/`, `.`, `\`, NUL or a space, so
/// `<dir>/<name>.toml` always stays inside the folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScenarioName(String);

impl ScenarioName {
    /// `None` when `text` is not a name.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= SCENARIO_NAME_CHARS_MAX
            && !text.starts_with('-')
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a start's scenario comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioSource {
    /// A name, checked against the catalogue when the run is planned: what the REST API
    /// sends, whatever text the client wrote.
    Named(String),
    /// A file the local user named on the command line (`edalab simulate --scenario
    /// ./my.toml`); never built from a request.
    LocalFile(PathBuf),
}

impl ScenarioSource {
    /// A command-line argument: a path if it ends in `.toml` or holds a `/`, else a name.
    pub fn from_cli_arg(text: &str) -> Self {
        if text.ends_with(".toml") || text.contains('/') {
            Self::LocalFile(PathBuf::from(text))
        } else {
            Self::Named(text.to_owned())
        }
    }
}

impl From<&str> for ScenarioSource {
    /// A name (see [`ScenarioSource::Named`]).
    fn from(name: &str) -> Self {
        Self::Named(name.to_owned())
    }
}

/// The scenarios a client may choose: `<dir>/<name>.toml` for each [`ScenarioName`] in the
/// folder, then the built-in ones. A file in the folder wins over a built-in of its name.
#[derive(Debug, Clone, Default)]
pub struct ScenarioCatalogue {
    dir: Option<PathBuf>,
}

impl ScenarioCatalogue {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// Every name, sorted: the built-ins and the folder's `<name>.toml` files (at most
    /// [`CATALOGUE_ENTRIES_MAX`] entries of the folder are looked at).
    pub fn names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = BUILTIN_SCENARIOS
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect();
        if let Some(entries) = self.dir.as_ref().and_then(|d| std::fs::read_dir(d).ok()) {
            for entry in entries.take(CATALOGUE_ENTRIES_MAX).flatten() {
                let file_name = entry.file_name();
                let name = file_name.to_str().and_then(|n| n.strip_suffix(".toml"));
                if let Some(name) = name.and_then(ScenarioName::parse) {
                    names.insert(name.0);
                }
            }
        }
        names.into_iter().collect()
    }

    /// The scenario called `name`; a text that is not a [`ScenarioName`] is refused before
    /// any file is touched.
    pub fn load(&self, name: &str) -> Result<Scenario, ScenarioError> {
        let name = ScenarioName::parse(name).ok_or_else(|| ScenarioError::InvalidName {
            known: self.names(),
        })?;
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{}.toml", name.as_str()));
            if path.exists() {
                return Scenario::from_file(&path);
            }
        }
        let (_, text) = BUILTIN_SCENARIOS
            .iter()
            .find(|(n, _)| *n == name.as_str())
            .ok_or_else(|| ScenarioError::Unknown {
                name: name.as_str().to_owned(),
                known: self.names(),
            })?;
        Scenario::parse(name.as_str(), text)
    }

    /// A scenario from `source`: a name from the catalogue, or a local file.
    pub fn resolve(&self, source: &ScenarioSource) -> Result<Scenario, ScenarioError> {
        match source {
            ScenarioSource::Named(name) => self.load(name),
            ScenarioSource::LocalFile(path) => Scenario::from_file(path),
        }
    }
}

/// The text of the file at `path`: a regular file of at most [`SCENARIO_BYTES_MAX`] bytes
/// (read through a bounded reader, so a file that grows, or one whose size the
/// file system does not tell, as in `/proc`, cannot make it read more), in UTF-8.
fn read_bounded(path: &Path) -> Result<String, ScenarioError> {
    let shown = || path.display().to_string();
    let read_error = |source| ScenarioError::Read {
        path: shown(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(ScenarioError::NotAFile { path: shown() });
    }
    if metadata.len() > SCENARIO_BYTES_MAX {
        return Err(ScenarioError::TooLarge { path: shown() });
    }
    let mut bytes = Vec::new();
    file.take(SCENARIO_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > SCENARIO_BYTES_MAX {
        return Err(ScenarioError::TooLarge { path: shown() });
    }
    String::from_utf8(bytes).map_err(|_| ScenarioError::NotText { path: shown() })
}

/// A TOML error without the excerpt of the source `toml` puts in its `Display`: the
/// message and the line and column where it starts.
fn toml_error_message(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or_default();
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .count()
                + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

/// A parsed and validated scenario.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Traffic shape; the REST `rate` and `--rate` rescale it (see `TrafficPattern::scaled_to`).
    #[serde(default)]
    pub pattern: TrafficPattern,
    /// Default run length in seconds; 0 runs until stopped.
    #[serde(default)]
    pub duration_s: u64,
    pub banking: Option<BankingTraffic>,
    /// S0: `POST /transactions` bodies.
    pub transactions: Option<TransactionTraffic>,
    /// S1: messages for `calculatrice-input-queue`.
    pub calculator: Option<CalculatorTraffic>,
    /// S2: order files dropped under `orders/`.
    pub order_files: Option<OrderFileTraffic>,
    /// S4: `POST /orders` bodies.
    pub orders: Option<OrderTraffic>,
}

/// S3 banking events on the `bancaire.*` topics.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankingTraffic {
    /// Share of all generated items, relative to the other sections' weights.
    pub weight: f64,
    /// Accounts opened before any other banking event.
    pub accounts_initial: u32,
    /// Bound on accounts ever opened; once reached, no more are opened.
    pub accounts_max: u32,
    /// Distinct clients; accounts beyond this number belong to existing clients.
    pub clients: u32,
    /// ISO 4217 code of every account.
    pub currency: String,
    /// Share of banking events that the ledger must refuse (see `invalid_mix`).
    pub invalid_share: f64,
    /// Share of banking items that are undecodable bytes on a banking topic.
    pub poison_share: f64,
    pub mix: BankingMix,
    pub invalid_mix: InvalidMix,
    pub account_types: AccountTypeMix,
    pub amounts: BankingAmounts,
}

impl Default for BankingTraffic {
    fn default() -> Self {
        Self {
            weight: 1.0,
            accounts_initial: 100,
            accounts_max: 100_000,
            clients: 80,
            currency: "EUR".into(),
            invalid_share: 0.0,
            poison_share: 0.0,
            mix: BankingMix::default(),
            invalid_mix: InvalidMix::default(),
            account_types: AccountTypeMix::default(),
            amounts: BankingAmounts::default(),
        }
    }
}

/// Relative weights of the banking event types once the initial accounts are open.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankingMix {
    pub open_account: f64,
    pub deposit: f64,
    pub withdrawal: f64,
    pub transfer: f64,
    pub premium: f64,
    pub close_account: f64,
}

impl Default for BankingMix {
    fn default() -> Self {
        Self {
            open_account: 3.0,
            deposit: 30.0,
            withdrawal: 35.0,
            transfer: 25.0,
            premium: 5.0,
            close_account: 0.5,
        }
    }
}

impl BankingMix {
    pub fn weights(&self) -> [f64; 6] {
        [
            self.open_account,
            self.deposit,
            self.withdrawal,
            self.transfer,
            self.premium,
            self.close_account,
        ]
    }
}

/// Relative weights of the kinds of invalid banking events.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InvalidMix {
    /// A withdrawal, transfer or premium larger than what the account holds.
    pub insufficient_funds: f64,
    /// A deposit, withdrawal or transfer naming an account that was never opened.
    pub unknown_account: f64,
}

impl Default for InvalidMix {
    fn default() -> Self {
        Self {
            insufficient_funds: 1.0,
            unknown_account: 1.0,
        }
    }
}

/// Relative weights of the account types of opened accounts.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountTypeMix {
    pub courant: f64,
    pub epargne: f64,
    pub joint: f64,
}

impl Default for AccountTypeMix {
    fn default() -> Self {
        Self {
            courant: 70.0,
            epargne: 20.0,
            joint: 10.0,
        }
    }
}

/// S0: `{amount, currency, accountFrom, accountTo}` bodies for `POST /transactions`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransactionTraffic {
    pub weight: f64,
    /// Bodies the API must refuse with 400 (amount ≤ 0, bad currency, missing account).
    pub invalid_share: f64,
    /// Bodies that are not JSON at all.
    pub poison_share: f64,
    /// Size of the pool of account ids (IBANs) transactions are drawn between.
    pub accounts: u32,
    /// Relative weights of the currencies.
    pub currencies: BTreeMap<String, f64>,
    pub amount: AmountModel,
}

impl Default for TransactionTraffic {
    fn default() -> Self {
        Self {
            weight: 1.0,
            invalid_share: 0.0,
            poison_share: 0.0,
            accounts: 1_000,
            currencies: [("EUR", 85.0), ("USD", 8.0), ("GBP", 5.0), ("CHF", 2.0)]
                .into_iter()
                .map(|(c, w)| (c.to_string(), w))
                .collect(),
            amount: AmountModel::new(120.0, 1.1, 0.5, 25_000.0, 0.01),
        }
    }
}

/// S1: `{operation, a, b}` messages for the calculator.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalculatorTraffic {
    pub weight: f64,
    /// Messages the worker must send to its DLQ: unknown operator, division by zero,
    /// non-numeric operand, overflow.
    pub invalid_share: f64,
    pub poison_share: f64,
    pub operations: CalculatorMix,
    /// Operands are drawn uniformly in `-operand_abs_max..=operand_abs_max`.
    pub operand_abs_max: i64,
}

impl Default for CalculatorTraffic {
    fn default() -> Self {
        Self {
            weight: 1.0,
            invalid_share: 0.0,
            poison_share: 0.0,
            operations: CalculatorMix::default(),
            operand_abs_max: 1_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalculatorMix {
    pub add: f64,
    pub subtract: f64,
    pub multiply: f64,
    pub divide: f64,
}

impl Default for CalculatorMix {
    fn default() -> Self {
        Self {
            add: 1.0,
            subtract: 1.0,
            multiply: 1.0,
            divide: 1.0,
        }
    }
}

/// S2: order files (`order_id, customer_id, created_at, currency, amount, items`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderFileTraffic {
    pub weight: f64,
    /// Orders to reject: negative amount and no items, or an amount that is not the sum.
    pub invalid_share: f64,
    pub poison_share: f64,
    /// Files repeating an earlier `order_id` (the worker must answer DUPLICATE).
    pub duplicate_share: f64,
    pub customers: u32,
    pub items_max: u32,
    pub currency: String,
    pub unit_price: AmountModel,
}

impl Default for OrderFileTraffic {
    fn default() -> Self {
        Self {
            weight: 1.0,
            invalid_share: 0.0,
            poison_share: 0.0,
            duplicate_share: 0.0,
            customers: 500,
            items_max: 5,
            currency: "EUR".into(),
            unit_price: AmountModel::new(25.0, 1.0, 0.5, 2_000.0, 0.01),
        }
    }
}

/// S4: `{userId, amount, items}` bodies for `POST /orders`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderTraffic {
    pub weight: f64,
    /// Bodies to refuse: amount ≤ 0 or no items.
    pub invalid_share: f64,
    pub poison_share: f64,
    pub users: u32,
    pub items_max: u32,
    pub amount: AmountModel,
}

impl Default for OrderTraffic {
    fn default() -> Self {
        Self {
            weight: 1.0,
            invalid_share: 0.0,
            poison_share: 0.0,
            users: 500,
            items_max: 4,
            amount: AmountModel::new(80.0, 1.0, 1.0, 5_000.0, 0.01),
        }
    }
}

impl Scenario {
    /// Parses and validates TOML text; `source_name` (a file name or scenario name) is quoted
    /// in errors, the text never is. This is the function fuzzing drives.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            source_name: source_name.to_string(),
            message: toml_error_message(&e, text),
        })?;
        scenario
            .validate()
            .map_err(|(key, message)| ScenarioError::Invalid {
                source_name: source_name.to_string(),
                key,
                message,
            })?;
        Ok(scenario)
    }

    /// A scenario shipped with edalab, by name (see [`BUILTIN_SCENARIOS`]).
    pub fn builtin(name: &str) -> Result<Self, ScenarioError> {
        ScenarioCatalogue::new(None).load(name)
    }

    /// The scenario in the file at `path`, read with a bound ([`SCENARIO_BYTES_MAX`]).
    pub fn from_file(path: &Path) -> Result<Self, ScenarioError> {
        let text = read_bounded(path)?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// For a local user's argument (the CLI): a path if `name_or_path` ends in `.toml` or
    /// holds a `/`, else a name of the catalogue over `dir` ([`ScenarioCatalogue`]).
    pub fn resolve(name_or_path: &str, dir: Option<&Path>) -> Result<Self, ScenarioError> {
        ScenarioCatalogue::new(dir.map(Path::to_path_buf))
            .resolve(&ScenarioSource::from_cli_arg(name_or_path))
    }

    /// Checks every setting; on failure answers the dotted key and what is wrong with it.
    fn validate(&self) -> Result<(), (String, String)> {
        let err = |key: &str, message: String| Err((key.to_string(), message));
        if self.name.trim().is_empty() {
            return err("name", "must not be empty".into());
        }
        self.pattern
            .validate()
            .map_err(|m| ("pattern".to_string(), m))?;
        let mut total_weight = 0.0;
        if let Some(b) = &self.banking {
            total_weight += check_weight("banking.weight", b.weight)?;
            check_shares("banking", b.invalid_share, b.poison_share)?;
            check_currency("banking.currency", &b.currency)?;
            check_mix("banking.mix", &b.mix.weights())?;
            check_mix(
                "banking.invalid_mix",
                &[
                    b.invalid_mix.insufficient_funds,
                    b.invalid_mix.unknown_account,
                ],
            )?;
            check_mix(
                "banking.account_types",
                &[
                    b.account_types.courant,
                    b.account_types.epargne,
                    b.account_types.joint,
                ],
            )?;
            if b.accounts_max == 0 || b.accounts_max > ACCOUNTS_MAX_LIMIT {
                return err(
                    "banking.accounts_max",
                    format!(
                        "must be within 1..={ACCOUNTS_MAX_LIMIT}, got {}",
                        b.accounts_max
                    ),
                );
            }
            if b.accounts_initial > b.accounts_max {
                return err(
                    "banking.accounts_initial",
                    format!(
                        "({}) is above accounts_max ({})",
                        b.accounts_initial, b.accounts_max
                    ),
                );
            }
            if b.accounts_initial < 2 {
                return err(
                    "banking.accounts_initial",
                    "must be at least 2 so that transfers have two ends".into(),
                );
            }
            if b.clients == 0 {
                return err("banking.clients", "must be at least 1".into());
            }
            b.amounts
                .validate()
                .map_err(|m| ("banking.amounts".to_string(), m))?;
        }
        if let Some(t) = &self.transactions {
            total_weight += check_weight("transactions.weight", t.weight)?;
            check_shares("transactions", t.invalid_share, t.poison_share)?;
            if t.accounts < 2 {
                return err("transactions.accounts", "must be at least 2".into());
            }
            if t.currencies.is_empty() {
                return err(
                    "transactions.currencies",
                    "must name at least one currency".into(),
                );
            }
            for (code, w) in &t.currencies {
                check_currency(&format!("transactions.currencies.{code}"), code)?;
                check_weight(&format!("transactions.currencies.{code}"), *w)?;
            }
            check_mix(
                "transactions.currencies",
                &t.currencies.values().copied().collect::<Vec<_>>(),
            )?;
            t.amount
                .validate()
                .map_err(|m| ("transactions.amount".to_string(), m))?;
        }
        if let Some(c) = &self.calculator {
            total_weight += check_weight("calculator.weight", c.weight)?;
            check_shares("calculator", c.invalid_share, c.poison_share)?;
            let o = &c.operations;
            check_mix(
                "calculator.operations",
                &[o.add, o.subtract, o.multiply, o.divide],
            )?;
            if !(1..=1_000_000_000_000).contains(&c.operand_abs_max) {
                return err(
                    "calculator.operand_abs_max",
                    format!("must be within 1..=10^12, got {}", c.operand_abs_max),
                );
            }
        }
        if let Some(o) = &self.order_files {
            total_weight += check_weight("order_files.weight", o.weight)?;
            check_shares("order_files", o.invalid_share, o.poison_share)?;
            check_share("order_files.duplicate_share", o.duplicate_share)?;
            if o.invalid_share + o.poison_share + o.duplicate_share > 1.0 {
                return err(
                    "order_files.duplicate_share",
                    "invalid_share + poison_share + duplicate_share is above 1".into(),
                );
            }
            check_currency("order_files.currency", &o.currency)?;
            check_count("order_files.customers", o.customers)?;
            check_items("order_files.items_max", o.items_max)?;
            o.unit_price
                .validate()
                .map_err(|m| ("order_files.unit_price".to_string(), m))?;
        }
        if let Some(o) = &self.orders {
            total_weight += check_weight("orders.weight", o.weight)?;
            check_shares("orders", o.invalid_share, o.poison_share)?;
            check_count("orders.users", o.users)?;
            check_items("orders.items_max", o.items_max)?;
            o.amount
                .validate()
                .map_err(|m| ("orders.amount".to_string(), m))?;
        }
        if total_weight <= 0.0 {
            return err(
                "banking",
                "no traffic: add at least one of [banking], [transactions], [calculator], \
                 [order_files], [orders] with a weight > 0"
                    .into(),
            );
        }
        Ok(())
    }
}

type Checked<T> = Result<T, (String, String)>;

fn check_weight(key: &str, w: f64) -> Checked<f64> {
    if !w.is_finite() || w < 0.0 {
        return Err((key.into(), format!("must be a finite number ≥ 0, got {w}")));
    }
    Ok(w)
}

fn check_share(key: &str, share: f64) -> Checked<()> {
    if !(0.0..=1.0).contains(&share) {
        return Err((key.into(), format!("must be within 0..=1, got {share}")));
    }
    Ok(())
}

fn check_shares(section: &str, invalid_share: f64, poison_share: f64) -> Checked<()> {
    check_share(&format!("{section}.invalid_share"), invalid_share)?;
    check_share(&format!("{section}.poison_share"), poison_share)?;
    if invalid_share + poison_share > 1.0 {
        return Err((
            format!("{section}.poison_share"),
            format!("invalid_share + poison_share is above 1 ({invalid_share} + {poison_share})"),
        ));
    }
    Ok(())
}

fn check_mix(key: &str, weights: &[f64]) -> Checked<()> {
    for w in weights {
        check_weight(key, *w)?;
    }
    if weights.iter().sum::<f64>() <= 0.0 {
        return Err((key.into(), "at least one weight must be > 0".into()));
    }
    Ok(())
}

fn check_currency(key: &str, code: &str) -> Checked<()> {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err((
            key.into(),
            format!("must be a 3-letter ISO 4217 code, got `{code}`"),
        ));
    }
    Ok(())
}

fn check_count(key: &str, n: u32) -> Checked<()> {
    if n == 0 || n > ACCOUNTS_MAX_LIMIT {
        return Err((
            key.into(),
            format!("must be within 1..={ACCOUNTS_MAX_LIMIT}, got {n}"),
        ));
    }
    Ok(())
}

fn check_items(key: &str, n: u32) -> Checked<()> {
    if !(1..=100).contains(&n) {
        return Err((key.into(), format!("must be within 1..=100, got {n}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_scenarios_parse() {
        for (name, _) in BUILTIN_SCENARIOS {
            let scenario = Scenario::builtin(name).unwrap();
            assert_eq!(scenario.name, *name);
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let err =
            Scenario::parse("t", "name = \"t\"\n[banking]\ninvalid_shar = 0.1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("invalid_shar"), "{text}");
    }

    #[test]
    fn bad_share_is_named() {
        let err =
            Scenario::parse("t", "name = \"t\"\n[banking]\ninvalid_share = 1.5\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`banking.invalid_share`"), "{text}");
    }

    #[test]
    fn empty_scenario_is_refused() {
        assert!(Scenario::parse("t", "name = \"t\"\n").is_err());
    }

    #[test]
    fn pattern_is_read() {
        let s = Scenario::parse(
            "t",
            "name = \"t\"\n[pattern]\nkind = \"ramp\"\nfrom_per_second = 1\nto_per_second = 10\nramp_s = 5\n[orders]\n",
        )
        .unwrap();
        assert_eq!(
            s.pattern,
            TrafficPattern::Ramp {
                from_per_second: 1.0,
                to_per_second: 10.0,
                ramp_s: 5.0
            }
        );
    }
}
