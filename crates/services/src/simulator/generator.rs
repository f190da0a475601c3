//! The generator: turns a scenario, a seed and a clock into a stream of
//! [`GeneratedItem`]s. Owns the per-pipeline generators and the order in which they draw
//! from the one random stream; reads the clock once per item. Never encodes, sleeps or
//! touches I/O: pacing is `pattern`, bytes are `encode`.

use std::collections::VecDeque;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use rand::distributions::{Distribution, WeightedIndex};
use rust_decimal::Decimal;
use serde_json::Value;

use super::amounts::cents_to_decimal;
use super::book::AccountBook;
use super::clock::Clock;
use super::fake_data::{FakeData, pick};
use super::items::{
    AccountType, BankingOperation, CalculationRequest, Channel, EventKind, GeneratedItem,
    InvalidReason, OrderFile, OrderFileItem, OrderRequest, Payload, Route, TransactionRequest,
    Validity, WithdrawalChannel, topics,
};
use super::scenario::{
    BankingTraffic, CalculatorTraffic, OrderFileTraffic, OrderTraffic, Scenario, TransactionTraffic,
};

/// Why a simulator could not be built or could not produce.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("scenario `{scenario}`: `{key}`: {message}")]
    BadWeights {
        scenario: String,
        key: &'static str,
        message: String,
    },
    #[error("count must be within 1..={max}, got {count}")]
    CountOutOfRange { count: usize, max: usize },
}

/// Most items one `produce` call may ask for (the REST body's `count`).
pub const PRODUCE_COUNT_MAX: usize = 10_000;
/// Order files remembered for duplicates.
const ORDER_FILES_REMEMBERED_MAX: usize = 256;

/// Counters of what was generated, for summaries (`edalab simulate`) and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimulatorStats {
    pub items_total: u64,
    /// Indexed like [`EventKind::ALL`].
    pub items_by_kind: [u64; 10],
    pub invalid_total: u64,
    pub poison_total: u64,
    pub duplicate_total: u64,
}

impl SimulatorStats {
    pub fn count_of(&self, kind: EventKind) -> u64 {
        EventKind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.items_by_kind[i])
    }

    fn record(&mut self, item: &GeneratedItem) {
        self.items_total += 1;
        if let Some(i) = EventKind::ALL.iter().position(|k| *k == item.kind()) {
            self.items_by_kind[i] += 1;
        }
        match item.validity {
            Validity::Valid => {}
            Validity::Invalid(_) => self.invalid_total += 1,
            Validity::Poison => self.poison_total += 1,
            Validity::Duplicate => self.duplicate_total += 1,
        }
    }
}

/// What every section generator draws from: time, randomness and the account book.
struct Ctx<C> {
    clock: C,
    fake: FakeData,
    book: AccountBook,
    /// Items stamped so far.
    sequence: u64,
    /// Items decided ahead (the `CompteFerme` following the withdrawal that empties the
    /// account). At most one at a time.
    pending: VecDeque<GeneratedItem>,
}

impl<C: Clock> Ctx<C> {
    /// The time and id of a new item.
    fn stamp(&mut self) -> (DateTime<Utc>, uuid::Uuid) {
        let at = self.clock.now_utc();
        let id = self.fake.uuid_v7(at);
        self.sequence += 1;
        (at, id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Banking,
    Transactions,
    Calculator,
    OrderFiles,
    Orders,
}

/// Seeded, stateful generator of a scenario's traffic.
pub struct Simulator<C> {
    scenario: Scenario,
    seed: u64,
    ctx: Ctx<C>,
    sections: Vec<Section>,
    section_index: Option<WeightedIndex<f64>>,
    /// One generator per pipeline, built from the scenario's section or, for a section the
    /// scenario lacks, from its defaults (used only by `produce`).
    banking: BankingGen,
    transactions: TransactionGen,
    calculator: CalculatorGen,
    order_files: OrderFileGen,
    orders: OrderGen,
    stats: SimulatorStats,
}

fn weighted(
    scenario: &Scenario,
    key: &'static str,
    weights: &[f64],
) -> Result<WeightedIndex<f64>, SimulatorError> {
    WeightedIndex::new(weights.iter().copied()).map_err(|e| SimulatorError::BadWeights {
        scenario: scenario.name.clone(),
        key,
        message: e.to_string(),
    })
}

impl<C: Clock> Simulator<C> {
    /// A simulator for `scenario`; the same `seed` and the same clock readings give the same
    /// items, byte for byte once encoded.
    pub fn new(scenario: Scenario, seed: u64, clock: C) -> Result<Self, SimulatorError> {
        let mut fake = FakeData::new(seed);
        let mut sections = Vec::new();
        let mut weights = Vec::new();
        let mut enable = |section: Section, weight: Option<f64>| {
            if let Some(weight) = weight {
                sections.push(section);
                weights.push(weight);
            }
        };
        enable(
            Section::Banking,
            scenario.banking.as_ref().map(|c| c.weight),
        );
        enable(
            Section::Transactions,
            scenario.transactions.as_ref().map(|c| c.weight),
        );
        enable(
            Section::Calculator,
            scenario.calculator.as_ref().map(|c| c.weight),
        );
        enable(
            Section::OrderFiles,
            scenario.order_files.as_ref().map(|c| c.weight),
        );
        enable(Section::Orders, scenario.orders.as_ref().map(|c| c.weight));
        let banking = BankingGen::new(&scenario, scenario.banking.clone().unwrap_or_default())?;
        let transactions = TransactionGen::new(
            &scenario,
            scenario.transactions.clone().unwrap_or_default(),
            &mut fake,
        )?;
        let calculator =
            CalculatorGen::new(&scenario, scenario.calculator.clone().unwrap_or_default())?;
        let order_files = OrderFileGen::new(scenario.order_files.clone().unwrap_or_default(), seed);
        let orders = OrderGen::new(scenario.orders.clone().unwrap_or_default());
        let section_index = if sections.len() > 1 {
            Some(weighted(&scenario, "weight", &weights)?)
        } else {
            None
        };
        Ok(Self {
            scenario,
            seed,
            ctx: Ctx {
                clock,
                fake,
                book: AccountBook::default(),
                sequence: 0,
                pending: VecDeque::new(),
            },
            sections,
            section_index,
            banking,
            transactions,
            calculator,
            order_files,
            orders,
            stats: SimulatorStats::default(),
        })
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn clock(&self) -> &C {
        &self.ctx.clock
    }

    /// The simulator's model of the accounts it opened.
    pub fn book(&self) -> &AccountBook {
        &self.ctx.book
    }

    pub fn stats(&self) -> &SimulatorStats {
        &self.stats
    }

    /// The next item of the scenario's mix.
    pub fn next_item(&mut self) -> GeneratedItem {
        let item = match self.ctx.pending.pop_front() {
            Some(item) => item,
            None => self.generate_one(),
        };
        self.stats.record(&item);
        item
    }

    /// The next `n` items.
    pub fn next_batch(&mut self, n: usize) -> Vec<GeneratedItem> {
        let mut out = Vec::with_capacity(n);
        self.fill_batch(n, &mut out);
        out
    }

    /// Appends the next `n` items to `out` (reuse `out` to avoid allocating per batch).
    pub fn fill_batch(&mut self, n: usize, out: &mut Vec<GeneratedItem>) {
        out.reserve(n);
        for _ in 0..n {
            out.push(self.next_item());
        }
    }

    fn generate_one(&mut self) -> GeneratedItem {
        let section = match &self.section_index {
            Some(index) => self.sections[index.sample(self.ctx.fake.rng())],
            None => self.sections.first().copied().unwrap_or(Section::Banking),
        };
        let ctx = &mut self.ctx;
        match section {
            Section::Banking => self.banking.next(ctx),
            Section::Transactions => self.transactions.next(ctx),
            Section::Calculator => self.calculator.next(ctx),
            Section::OrderFiles => self.order_files.next(ctx),
            Section::Orders => self.orders.next(ctx),
        }
    }

    /// `count` valid items of one type (`POST /api/v1/events/produce`). A banking type that
    /// needs accounts when fewer than two are open first opens the missing ones; those
    /// `CompteOuvert` items come first in the answer. Types whose section the scenario lacks
    /// use that section's defaults.
    pub fn produce(
        &mut self,
        kind: EventKind,
        count: usize,
    ) -> Result<Vec<GeneratedItem>, SimulatorError> {
        if count == 0 || count > PRODUCE_COUNT_MAX {
            return Err(SimulatorError::CountOutOfRange {
                count,
                max: PRODUCE_COUNT_MAX,
            });
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let ctx = &mut self.ctx;
            let item = match kind {
                EventKind::Transaction => self.transactions.valid(ctx),
                EventKind::Calculation => self.calculator.valid(ctx),
                EventKind::OrderFile => self.order_files.valid(ctx),
                EventKind::Order => self.orders.valid(ctx),
                banking_kind => {
                    let needs_accounts = banking_kind != EventKind::CompteOuvert;
                    while needs_accounts && ctx.book.open_count() < 2 {
                        let opened = self.banking.open_account(ctx);
                        self.stats.record(&opened);
                        out.push(opened);
                    }
                    if banking_kind == EventKind::CompteFerme {
                        let (opened, item) = self.banking.close_for_produce(ctx);
                        if let Some(opened) = opened {
                            self.stats.record(&opened);
                            out.push(opened);
                        }
                        item
                    } else {
                        self.banking.valid_of_kind(ctx, banking_kind)
                    }
                }
            };
            self.stats.record(&item);
            out.push(item);
            while let Some(item) = self.ctx.pending.pop_front() {
                self.stats.record(&item);
                out.push(item);
            }
        }
        Ok(out)
    }
}

impl<C: Clock> Iterator for Simulator<C> {
    type Item = GeneratedItem;

    /// Never ends: a simulation is bounded by its duration or a count, not by the generator.
    fn next(&mut self) -> Option<GeneratedItem> {
        Some(self.next_item())
    }
}

/// Poison bytes for a Confluent-framed Avro topic: the first byte is never the magic byte 0,
/// so no decoder can take them for a record.
fn avro_poison<R: Rng + ?Sized>(rng: &mut R) -> Vec<u8> {
    let len = rng.gen_range(8..64);
    let mut bytes = vec![0_u8; len];
    rng.fill(&mut bytes[..]);
    bytes[0] = rng.gen_range(1..=255);
    bytes
}

/// Poison bytes for a JSON input: a truncated object followed by bytes that are not UTF-8.
fn json_poison<R: Rng + ?Sized>(rng: &mut R) -> Vec<u8> {
    let mut bytes = b"{\"amount\": ".to_vec();
    let tail_len = rng.gen_range(4..24);
    for _ in 0..tail_len {
        bytes.push(rng.gen_range(0x80..=0xFF));
    }
    bytes
}

fn roll_validity<R: Rng + ?Sized>(rng: &mut R, poison_share: f64, invalid_share: f64) -> Roll {
    let roll: f64 = rng.r#gen();
    if roll < poison_share {
        Roll::Poison
    } else if roll < poison_share + invalid_share {
        Roll::Invalid
    } else {
        Roll::Valid
    }
}

enum Roll {
    Valid,
    Invalid,
    Poison,
}

// ---------------------------------------------------------------------------------------
// S3 banking

const TRANSFER_MOTIVES: &[&str] = &[
    "Loyer",
    "Remboursement",
    "Participation vacances",
    "Cadeau d'anniversaire",
    "Facture électricité",
    "Épargne mensuelle",
    "Frais de scolarité",
    "Courses",
    "Remboursement restaurant",
    "Pension",
];
/// Contract id prefixes: home, car, health, life cover, loan and school insurance.
const PREMIUM_CONTRACTS: &[&str] = &["HAB", "AUTO", "SANTE", "PREV", "EMPR", "SCOL"];
const CLOSE_REASONS: &[&str] = &["Demande du client", "Déménagement", "Changement de banque"];
const DEPOSIT_CHANNELS: [(Channel, f64); 4] = [
    (Channel::Transfer, 45.0),
    (Channel::Counter, 25.0),
    (Channel::Cheque, 20.0),
    (Channel::Card, 10.0),
];
/// Picks of an account that fail (no spendable money) before falling back to a deposit.
const ACCOUNT_PICK_TRIES_MAX: usize = 4;
/// Items to wait after an account's opening before sending it a transfer, so that the
/// ledger has applied the opening (it is on another partition than the transfer).
const DESTINATION_SETTLE_ITEMS: u64 = 1_000;
/// Smallest debit generated, in cents.
const DEBIT_CENTS_MIN: i64 = 100;

struct BankingGen {
    cfg: BankingTraffic,
    mix: WeightedIndex<f64>,
    invalid_mix: WeightedIndex<f64>,
    account_types: WeightedIndex<f64>,
    deposit_channels: WeightedIndex<f64>,
}

impl BankingGen {
    fn new(scenario: &Scenario, cfg: BankingTraffic) -> Result<Self, SimulatorError> {
        let im = cfg.invalid_mix;
        let at = cfg.account_types;
        Ok(Self {
            mix: weighted(scenario, "banking.mix", &cfg.mix.weights())?,
            invalid_mix: weighted(
                scenario,
                "banking.invalid_mix",
                &[im.insufficient_funds, im.unknown_account],
            )?,
            account_types: weighted(
                scenario,
                "banking.account_types",
                &[at.courant, at.epargne, at.joint],
            )?,
            deposit_channels: weighted(
                scenario,
                "banking.deposit_channels",
                &DEPOSIT_CHANNELS.map(|(_, w)| w),
            )?,
            cfg,
        })
    }

    fn item(op: BankingOperation, validity: Validity) -> GeneratedItem {
        GeneratedItem {
            id: op.event_id(),
            route: Route::Topic(op.topic()),
            key: op.account_id().to_string(),
            payload: Payload::Banking(op),
            validity,
        }
    }

    fn next<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let opened = ctx.book.accounts_opened_total();
        if opened < self.cfg.accounts_initial as usize
            || (ctx.book.open_count() < 2 && opened < self.cfg.accounts_max as usize)
        {
            return self.open_account(ctx);
        }
        match roll_validity(
            ctx.fake.rng(),
            self.cfg.poison_share,
            self.cfg.invalid_share,
        ) {
            Roll::Poison => self.poison(ctx),
            Roll::Invalid => self.invalid(ctx),
            Roll::Valid => {
                let kind = match self.mix.sample(ctx.fake.rng()) {
                    0 => EventKind::CompteOuvert,
                    1 => EventKind::DepotEffectue,
                    2 => EventKind::RetraitEffectue,
                    3 => EventKind::VirementEmis,
                    4 => EventKind::PaiementPrimeEffectue,
                    _ => EventKind::CompteFerme,
                };
                self.valid_of_kind(ctx, kind)
            }
        }
    }

    /// A valid item of `kind`; falls back to a deposit when the book cannot support it (no
    /// money to debit, too few accounts, accounts_max reached).
    fn valid_of_kind<C: Clock>(&self, ctx: &mut Ctx<C>, kind: EventKind) -> GeneratedItem {
        let attempt = match kind {
            EventKind::CompteOuvert => {
                if ctx.book.accounts_opened_total() < self.cfg.accounts_max as usize {
                    Some(self.open_account(ctx))
                } else {
                    None
                }
            }
            EventKind::RetraitEffectue => self.withdrawal(ctx),
            EventKind::VirementEmis => self.transfer(ctx),
            EventKind::PaiementPrimeEffectue => self.premium(ctx),
            EventKind::CompteFerme => {
                // Keep enough accounts open for transfers to have two ends.
                self.close(ctx, self.cfg.accounts_initial as usize / 2)
            }
            _ => None,
        };
        attempt.unwrap_or_else(|| self.deposit(ctx))
    }

    fn open_account<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let (at, event_id) = ctx.stamp();
        let account_id = ctx.fake.uuid_v7(at);
        let new_client = ctx.book.clients().len() < self.cfg.clients as usize;
        let mut client = None;
        if new_client {
            // A handful of tries absorbs the one-in-10¹⁰ id collision.
            for _ in 0..ACCOUNT_PICK_TRIES_MAX {
                let id = ctx.fake.client_id();
                let name = ctx.fake.full_name();
                client = ctx.book.add_client(id, name);
                if client.is_some() {
                    break;
                }
            }
        }
        let client = client
            .or_else(|| ctx.book.random_client(ctx.fake.rng()))
            .unwrap_or(0);
        let account_type = match self.account_types.sample(ctx.fake.rng()) {
            0 => AccountType::Current,
            1 => AccountType::Savings,
            _ => AccountType::Joint,
        };
        let amounts = &self.cfg.amounts;
        let initial_cents = if ctx.fake.rng().gen_bool(amounts.initial_balance_zero_share) {
            0
        } else {
            ctx.fake.amount_cents(&amounts.initial_balance)
        };
        let (client_id, mut holder_name) = ctx
            .book
            .client(client)
            .map(|c| (c.id.clone(), c.name.clone()))
            .unwrap_or_default();
        if account_type == AccountType::Joint {
            let partner = ctx.fake.first_name();
            holder_name = format!("{holder_name} et {partner}");
        }
        let iban = ctx.fake.iban();
        ctx.book.open_account(
            account_id,
            client,
            account_type,
            initial_cents,
            ctx.sequence,
        );
        Self::item(
            BankingOperation::OpenAccount {
                event_id,
                at,
                account_id,
                client_id,
                account_type,
                currency: self.cfg.currency.clone(),
                initial_balance: cents_to_decimal(initial_cents),
                iban,
                holder_name,
            },
            Validity::Valid,
        )
    }

    fn deposit<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let Some(position) = ctx.book.random_open(ctx.fake.rng()) else {
            return self.open_account(ctx);
        };
        let account_id = ctx.book.open_at(position).map(|a| a.id).unwrap_or_default();
        let cents = ctx.fake.amount_cents(&self.cfg.amounts.deposit);
        ctx.book.credit_own(position, cents);
        self.deposit_item(ctx, account_id, cents, Validity::Valid)
    }

    fn deposit_item<C: Clock>(
        &self,
        ctx: &mut Ctx<C>,
        account_id: uuid::Uuid,
        cents: i64,
        validity: Validity,
    ) -> GeneratedItem {
        let (at, event_id) = ctx.stamp();
        let channel = DEPOSIT_CHANNELS[self.deposit_channels.sample(ctx.fake.rng())].0;
        let reference = ctx.fake.reference("DEP", at);
        Self::item(
            BankingOperation::Deposit {
                event_id,
                at,
                account_id,
                amount: cents_to_decimal(cents),
                currency: self.cfg.currency.clone(),
                reference,
                channel,
            },
            validity,
        )
    }

    /// An open account with at least `DEBIT_CENTS_MIN` spendable, as a position.
    fn funded_account<C: Clock>(&self, ctx: &mut Ctx<C>) -> Option<usize> {
        for _ in 0..ACCOUNT_PICK_TRIES_MAX {
            let position = ctx.book.random_open(ctx.fake.rng())?;
            if ctx
                .book
                .open_at(position)
                .is_some_and(|a| a.spendable_cents >= DEBIT_CENTS_MIN)
            {
                return Some(position);
            }
        }
        None
    }

    fn withdrawal<C: Clock>(&self, ctx: &mut Ctx<C>) -> Option<GeneratedItem> {
        let position = self.funded_account(ctx)?;
        let account = ctx.book.open_at(position)?;
        let (account_id, spendable) = (account.id, account.spendable_cents);
        let amounts = &self.cfg.amounts;
        let at_cash_machine = ctx.fake.rng().gen_bool(amounts.withdrawal_atm_share);
        let (channel, cents) = if at_cash_machine {
            let step = (amounts.withdrawal_atm.step_eur * 100.0).round() as i64;
            let wanted = ctx.fake.amount_cents(&amounts.withdrawal_atm);
            let affordable = (spendable / step.max(1)) * step.max(1);
            (WithdrawalChannel::Distributeur, wanted.min(affordable))
        } else {
            let channel = if ctx.fake.rng().gen_bool(0.6) {
                WithdrawalChannel::Carte
            } else {
                WithdrawalChannel::Guichet
            };
            let wanted = ctx.fake.amount_cents(&amounts.withdrawal_counter);
            (channel, wanted.min(spendable))
        };
        if cents < DEBIT_CENTS_MIN {
            return None;
        }
        ctx.book.debit_own(position, cents);
        Some(self.withdrawal_item(ctx, account_id, cents, channel, Validity::Valid))
    }

    fn withdrawal_item<C: Clock>(
        &self,
        ctx: &mut Ctx<C>,
        account_id: uuid::Uuid,
        cents: i64,
        channel: WithdrawalChannel,
        validity: Validity,
    ) -> GeneratedItem {
        let (at, event_id) = ctx.stamp();
        let reference = ctx.fake.reference("RET", at);
        Self::item(
            BankingOperation::Withdrawal {
                event_id,
                at,
                account_id,
                amount: cents_to_decimal(cents),
                currency: self.cfg.currency.clone(),
                reference,
                channel,
            },
            validity,
        )
    }

    /// An open account other than `source`, opened during the warm-up or at least
    /// `DESTINATION_SETTLE_ITEMS` items ago, as a position.
    fn settled_destination<C: Clock>(&self, ctx: &mut Ctx<C>, source: usize) -> Option<usize> {
        let warm_up_end = u64::from(self.cfg.accounts_initial);
        for _ in 0..ACCOUNT_PICK_TRIES_MAX {
            let position = ctx.book.random_open(ctx.fake.rng())?;
            let settled = ctx.book.open_at(position).is_some_and(|a| {
                a.opened_sequence <= warm_up_end
                    || a.opened_sequence + DESTINATION_SETTLE_ITEMS <= ctx.sequence
            });
            if position != source && settled {
                return Some(position);
            }
        }
        None
    }

    fn transfer<C: Clock>(&self, ctx: &mut Ctx<C>) -> Option<GeneratedItem> {
        if ctx.book.open_count() < 2 {
            return None;
        }
        let source = self.funded_account(ctx)?;
        let destination = self.settled_destination(ctx, source)?;
        let source_account = ctx.book.open_at(source)?;
        let (source_id, spendable) = (source_account.id, source_account.spendable_cents);
        let destination_id = ctx.book.open_at(destination)?.id;
        let cents = ctx
            .fake
            .amount_cents(&self.cfg.amounts.transfer)
            .min(spendable);
        if cents < DEBIT_CENTS_MIN {
            return None;
        }
        ctx.book.debit_own(source, cents);
        ctx.book.credit_incoming(destination, cents);
        Some(self.transfer_item(ctx, source_id, destination_id, cents, Validity::Valid))
    }

    fn transfer_item<C: Clock>(
        &self,
        ctx: &mut Ctx<C>,
        source_account_id: uuid::Uuid,
        destination_account_id: uuid::Uuid,
        cents: i64,
        validity: Validity,
    ) -> GeneratedItem {
        let (at, event_id) = ctx.stamp();
        let motive = pick(ctx.fake.rng(), TRANSFER_MOTIVES);
        let reference = ctx.fake.reference("VIR", at);
        Self::item(
            BankingOperation::Transfer {
                event_id,
                at,
                source_account_id,
                destination_account_id,
                amount: cents_to_decimal(cents),
                currency: self.cfg.currency.clone(),
                motive,
                reference,
            },
            validity,
        )
    }

    /// A premium paid into the account (a credit, as the ledger defines it).
    fn premium<C: Clock>(&self, ctx: &mut Ctx<C>) -> Option<GeneratedItem> {
        let position = ctx.book.random_open(ctx.fake.rng())?;
        let account_id = ctx.book.open_at(position)?.id;
        let cents = ctx.fake.amount_cents(&self.cfg.amounts.premium);
        ctx.book.credit_own(position, cents);
        let (at, event_id) = ctx.stamp();
        let contract = pick(ctx.fake.rng(), PREMIUM_CONTRACTS);
        let contract_id = format!(
            "CTR-{contract}-{:08}",
            ctx.fake.rng().gen_range(0..100_000_000)
        );
        let reference = ctx.fake.reference("PRI", at);
        Some(Self::item(
            BankingOperation::Premium {
                event_id,
                at,
                account_id,
                amount: cents_to_decimal(cents),
                currency: self.cfg.currency.clone(),
                reference,
                contract_id,
            },
            Validity::Valid,
        ))
    }

    /// Closes an account that never received a transfer. The ledger closes only zero
    /// balances, so an account holding money is first emptied by a withdrawal at the counter;
    /// the `CompteFerme` follows as the next item (same key, so same partition and order).
    fn close<C: Clock>(&self, ctx: &mut Ctx<C>, keep_open_min: usize) -> Option<GeneratedItem> {
        if ctx.book.open_count() <= keep_open_min.max(2) || !ctx.pending.is_empty() {
            return None;
        }
        let mut chosen = None;
        for _ in 0..ACCOUNT_PICK_TRIES_MAX {
            let position = ctx.book.random_open(ctx.fake.rng())?;
            if ctx
                .book
                .open_at(position)
                .is_some_and(|a| !a.received_transfer)
            {
                chosen = Some(position);
                break;
            }
        }
        self.close_at(ctx, chosen?)
    }

    /// For `produce`: closes an existing account when one can be, else opens one and closes
    /// it. Answers the opening (if any) and the first item of the close.
    fn close_for_produce<C: Clock>(
        &self,
        ctx: &mut Ctx<C>,
    ) -> (Option<GeneratedItem>, GeneratedItem) {
        if let Some(item) = self.close(ctx, 2) {
            return (None, item);
        }
        let opened = self.open_account(ctx);
        let position = ctx.book.open_count().saturating_sub(1);
        let item = self
            .close_at(ctx, position)
            .unwrap_or_else(|| self.deposit(ctx));
        (Some(opened), item)
    }

    /// Closes the open account at `position` (emptying it first if needed).
    fn close_at<C: Clock>(&self, ctx: &mut Ctx<C>, position: usize) -> Option<GeneratedItem> {
        let account = ctx.book.open_at(position)?;
        let (balance_cents, client) = (account.spendable_cents, account.client);
        let client_id = ctx
            .book
            .client(client)
            .map(|c| c.id.clone())
            .unwrap_or_default();
        ctx.book.debit_own(position, balance_cents);
        let account_id = ctx.book.close(position)?;
        let withdrawal = (balance_cents > 0).then(|| {
            self.withdrawal_item(
                ctx,
                account_id,
                balance_cents,
                WithdrawalChannel::Guichet,
                Validity::Valid,
            )
        });
        let (at, event_id) = ctx.stamp();
        let reason = pick(ctx.fake.rng(), CLOSE_REASONS);
        let close = Self::item(
            BankingOperation::CloseAccount {
                event_id,
                at,
                account_id,
                client_id,
                reason,
            },
            Validity::Valid,
        );
        match withdrawal {
            Some(withdrawal) => {
                ctx.pending.push_back(close);
                Some(withdrawal)
            }
            None => Some(close),
        }
    }

    /// A debit above the account's full expected balance (incoming transfers included), so
    /// the ledger refuses it whatever it has applied so far.
    fn insufficient_funds<C: Clock>(&self, ctx: &mut Ctx<C>) -> Option<GeneratedItem> {
        let position = ctx.book.random_open(ctx.fake.rng())?;
        let account = ctx.book.open_at(position)?;
        let (account_id, balance) = (account.id, account.balance_cents.max(0));
        let excess = ctx.fake.amount_cents(&self.cfg.amounts.transfer);
        let cents = balance + excess.max(1);
        let validity = Validity::Invalid(InvalidReason::InsufficientFunds);
        let destination_id = ctx
            .book
            .random_open(ctx.fake.rng())
            .filter(|d| *d != position)
            .and_then(|d| ctx.book.open_at(d))
            .map(|a| a.id);
        Some(match destination_id {
            Some(destination_id) if ctx.fake.rng().gen_bool(0.5) => {
                self.transfer_item(ctx, account_id, destination_id, cents, validity)
            }
            _ => self.withdrawal_item(ctx, account_id, cents, WithdrawalChannel::Guichet, validity),
        })
    }

    /// An event the ledger must refuse; the book is left unchanged.
    fn invalid<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let insufficient = self.invalid_mix.sample(ctx.fake.rng()) == 0;
        if let Some(item) = insufficient.then(|| self.insufficient_funds(ctx)).flatten() {
            return item;
        }
        // Unknown account: a fresh UUID v7 that was never opened. A transfer names an unknown
        // *source*, so a ledger that checks only the source still refuses it.
        let (at, _) = ctx.stamp();
        let unknown = ctx.fake.uuid_v7(at);
        let validity = Validity::Invalid(InvalidReason::UnknownAccount);
        let which: f64 = ctx.fake.rng().r#gen();
        if which < 0.4 {
            let cents = ctx.fake.amount_cents(&self.cfg.amounts.deposit);
            self.deposit_item(ctx, unknown, cents, validity)
        } else if which < 0.7 {
            let cents = ctx.fake.amount_cents(&self.cfg.amounts.withdrawal_counter);
            self.withdrawal_item(ctx, unknown, cents, WithdrawalChannel::Carte, validity)
        } else {
            let destination = ctx
                .book
                .random_open(ctx.fake.rng())
                .and_then(|d| ctx.book.open_at(d))
                .map_or(unknown, |a| a.id);
            let cents = ctx.fake.amount_cents(&self.cfg.amounts.transfer);
            self.transfer_item(ctx, unknown, destination, cents, validity)
        }
    }

    fn poison<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let (_, id) = ctx.stamp();
        let topic_index = ctx.fake.rng().gen_range(0..topics::BANKING_INPUTS.len());
        let topic = topics::BANKING_INPUTS[topic_index];
        let kind = [
            EventKind::CompteOuvert,
            EventKind::DepotEffectue,
            EventKind::RetraitEffectue,
            EventKind::VirementEmis,
            EventKind::PaiementPrimeEffectue,
            EventKind::CompteFerme,
        ][topic_index];
        let key = ctx
            .book
            .random_open(ctx.fake.rng())
            .and_then(|p| ctx.book.open_at(p))
            .map_or(id, |a| a.id)
            .to_string();
        GeneratedItem {
            id,
            route: Route::Topic(topic),
            key,
            payload: Payload::Poison {
                kind,
                bytes: avro_poison(ctx.fake.rng()),
            },
            validity: Validity::Poison,
        }
    }
}

// ---------------------------------------------------------------------------------------
// S0 transactions

struct TransactionGen {
    cfg: TransactionTraffic,
    accounts: Vec<String>,
    currencies: Vec<String>,
    currency_index: WeightedIndex<f64>,
}

impl TransactionGen {
    fn new(
        scenario: &Scenario,
        cfg: TransactionTraffic,
        fake: &mut FakeData,
    ) -> Result<Self, SimulatorError> {
        let accounts = (0..cfg.accounts).map(|_| fake.iban()).collect();
        let currencies: Vec<String> = cfg.currencies.keys().cloned().collect();
        let weights: Vec<f64> = cfg.currencies.values().copied().collect();
        Ok(Self {
            currency_index: weighted(scenario, "transactions.currencies", &weights)?,
            currencies,
            accounts,
            cfg,
        })
    }

    fn next<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        match roll_validity(
            ctx.fake.rng(),
            self.cfg.poison_share,
            self.cfg.invalid_share,
        ) {
            Roll::Valid => self.valid(ctx),
            Roll::Invalid => self.invalid(ctx),
            Roll::Poison => {
                let (_, id) = ctx.stamp();
                let key = pick_string(ctx.fake.rng(), &self.accounts);
                GeneratedItem {
                    id,
                    route: Route::HttpPost(topics::TRANSACTIONS_PATH),
                    key,
                    payload: Payload::Poison {
                        kind: EventKind::Transaction,
                        bytes: json_poison(ctx.fake.rng()),
                    },
                    validity: Validity::Poison,
                }
            }
        }
    }

    fn request<C: Clock>(&self, ctx: &mut Ctx<C>) -> TransactionRequest {
        let from = ctx.fake.rng().gen_range(0..self.accounts.len());
        let mut to = ctx.fake.rng().gen_range(0..self.accounts.len());
        if to == from {
            to = (from + 1) % self.accounts.len();
        }
        let currency = self.currencies[self.currency_index.sample(ctx.fake.rng())].clone();
        TransactionRequest {
            amount: ctx.fake.amount(&self.cfg.amount),
            currency,
            account_from: self.accounts[from].clone(),
            account_to: self.accounts[to].clone(),
        }
    }

    fn item(id: uuid::Uuid, request: TransactionRequest, validity: Validity) -> GeneratedItem {
        GeneratedItem {
            id,
            route: Route::HttpPost(topics::TRANSACTIONS_PATH),
            key: request.account_from.clone(),
            payload: Payload::Transaction(request),
            validity,
        }
    }

    fn valid<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let (_, id) = ctx.stamp();
        let request = self.request(ctx);
        Self::item(id, request, Validity::Valid)
    }

    fn invalid<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let (_, id) = ctx.stamp();
        let mut request = self.request(ctx);
        let reason = match ctx.fake.rng().gen_range(0..3) {
            0 => {
                request.amount = -request.amount * Decimal::from(ctx.fake.rng().gen_range(0..2));
                InvalidReason::AmountNotPositive
            }
            1 => {
                request.currency = pick(ctx.fake.rng(), &["EURO", "eu", "E1R", ""]).into();
                InvalidReason::BadCurrency
            }
            _ => {
                request.account_to.clear();
                InvalidReason::MissingAccount
            }
        };
        Self::item(id, request, Validity::Invalid(reason))
    }
}

fn pick_string<R: Rng + ?Sized>(rng: &mut R, items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    items[rng.gen_range(0..items.len())].clone()
}

// ---------------------------------------------------------------------------------------
// S1 calculator

const OPERATIONS: [&str; 4] = ["add", "subtract", "multiply", "divide"];

struct CalculatorGen {
    cfg: CalculatorTraffic,
    operations: WeightedIndex<f64>,
}

impl CalculatorGen {
    fn new(scenario: &Scenario, cfg: CalculatorTraffic) -> Result<Self, SimulatorError> {
        let o = cfg.operations;
        Ok(Self {
            operations: weighted(
                scenario,
                "calculator.operations",
                &[o.add, o.subtract, o.multiply, o.divide],
            )?,
            cfg,
        })
    }

    fn operand<C: Clock>(&self, ctx: &mut Ctx<C>) -> Value {
        let max = self.cfg.operand_abs_max;
        let n = ctx.fake.rng().gen_range(-max..=max);
        if ctx.fake.rng().gen_bool(0.2) {
            // A decimal operand such as 12.5.
            Value::from(n as f64 + f64::from(ctx.fake.rng().gen_range(1..10_u8)) / 10.0)
        } else {
            Value::from(n)
        }
    }

    fn item(id: uuid::Uuid, request: CalculationRequest, validity: Validity) -> GeneratedItem {
        GeneratedItem {
            id,
            route: Route::Topic(topics::CALCULATOR_INPUT),
            key: id.to_string(),
            payload: Payload::Calculation(request),
            validity,
        }
    }

    fn next<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        match roll_validity(
            ctx.fake.rng(),
            self.cfg.poison_share,
            self.cfg.invalid_share,
        ) {
            Roll::Valid => self.valid(ctx),
            Roll::Invalid => self.invalid(ctx),
            Roll::Poison => {
                let (_, id) = ctx.stamp();
                GeneratedItem {
                    id,
                    route: Route::Topic(topics::CALCULATOR_INPUT),
                    key: id.to_string(),
                    payload: Payload::Poison {
                        kind: EventKind::Calculation,
                        bytes: json_poison(ctx.fake.rng()),
                    },
                    validity: Validity::Poison,
                }
            }
        }
    }

    fn valid<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let (_, id) = ctx.stamp();
        let operation = OPERATIONS[self.operations.sample(ctx.fake.rng())];
        let a = self.operand(ctx);
        let mut b = self.operand(ctx);
        if operation == "divide" && b.as_f64() == Some(0.0) {
            b = Value::from(1);
        }
        Self::item(
            id,
            CalculationRequest {
                operation: operation.into(),
                a,
                b,
            },
            Validity::Valid,
        )
    }

    fn invalid<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let (_, id) = ctx.stamp();
        let a = self.operand(ctx);
        let (request, reason) = match ctx.fake.rng().gen_range(0..4) {
            0 => (
                CalculationRequest {
                    operation: pick(ctx.fake.rng(), &["modulo", "power", "sqrt", "ADD "]).into(),
                    a,
                    b: self.operand(ctx),
                },
                InvalidReason::UnknownOperation,
            ),
            1 => (
                CalculationRequest {
                    operation: "divide".into(),
                    a,
                    b: Value::from(0),
                },
                InvalidReason::DivisionByZero,
            ),
            2 => (
                CalculationRequest {
                    operation: OPERATIONS[self.operations.sample(ctx.fake.rng())].into(),
                    a: Value::from(pick(ctx.fake.rng(), &["cinq", "", "12,5", "NaN"])),
                    b: self.operand(ctx),
                },
                InvalidReason::NonNumericOperand,
            ),
            _ => (
                CalculationRequest {
                    operation: "multiply".into(),
                    a: Value::from(1.5e308),
                    b: Value::from(1.0e10),
                },
                InvalidReason::Overflow,
            ),
        };
        Self::item(id, request, Validity::Invalid(reason))
    }
}

// ---------------------------------------------------------------------------------------
// S2 order files

const SKU_CATALOG_SIZE: u32 = 500;

struct OrderFileGen {
    cfg: OrderFileTraffic,
    /// Six hex digits from the seed in every `order_id`, so that two runs (or two
    /// `edalab up` sessions of `events/produce`) on one data directory do not reuse ids
    /// the intake would record as DUPLICATE. Derived without drawing from the random
    /// stream, so the rest of the output does not depend on it.
    run_tag: String,
    next_sequence: u64,
    /// Recent valid files, to repeat as duplicates. Bounded by `ORDER_FILES_REMEMBERED_MAX`.
    recent: VecDeque<OrderFile>,
}

impl OrderFileGen {
    fn new(cfg: OrderFileTraffic, seed: u64) -> Self {
        // SplitMix64's finaliser: nearby seeds give unrelated tags.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self {
            cfg,
            run_tag: format!("{:06X}", z >> 40),
            next_sequence: 1,
            recent: VecDeque::new(),
        }
    }

    fn item(id: uuid::Uuid, key: String, payload: Payload, validity: Validity) -> GeneratedItem {
        GeneratedItem {
            id,
            route: Route::File(topics::ORDER_FILES_PREFIX),
            key,
            payload,
            validity,
        }
    }

    fn next<C: Clock>(&mut self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let roll: f64 = ctx.fake.rng().r#gen();
        let c = &self.cfg;
        if roll < c.poison_share {
            let (_, id) = ctx.stamp();
            let key = format!("poison-{}.json", id.simple());
            let bytes = json_poison(ctx.fake.rng());
            let payload = Payload::Poison {
                kind: EventKind::OrderFile,
                bytes,
            };
            return Self::item(id, key, payload, Validity::Poison);
        }
        if roll < c.poison_share + c.invalid_share {
            return self.invalid(ctx);
        }
        if roll < c.poison_share + c.invalid_share + c.duplicate_share && !self.recent.is_empty() {
            let (_, id) = ctx.stamp();
            let index = ctx.fake.rng().gen_range(0..self.recent.len());
            let order = self.recent[index].clone();
            let key = format!("{}-{}.json", order.order_id, &id.simple().to_string()[24..]);
            return Self::item(id, key, Payload::OrderFile(order), Validity::Duplicate);
        }
        self.valid(ctx)
    }

    fn order<C: Clock>(&mut self, ctx: &mut Ctx<C>, at: DateTime<Utc>) -> OrderFile {
        let order_id = format!(
            "ORD-{}-{}-{:06}",
            at.format("%Y"),
            self.run_tag,
            self.next_sequence
        );
        self.next_sequence += 1;
        let customer = ctx.fake.rng().gen_range(1..=self.cfg.customers);
        let count = ctx.fake.rng().gen_range(1..=self.cfg.items_max);
        let mut items = Vec::with_capacity(count as usize);
        let mut total = Decimal::ZERO;
        for _ in 0..count {
            let qty = *[1_u32, 1, 1, 2, 2, 3]
                .get(ctx.fake.rng().gen_range(0..6))
                .unwrap_or(&1);
            let unit_price = ctx.fake.amount(&self.cfg.unit_price);
            total += unit_price * Decimal::from(qty);
            items.push(OrderFileItem {
                sku: format!("SKU-{:05}", ctx.fake.rng().gen_range(1..=SKU_CATALOG_SIZE)),
                qty,
                unit_price,
            });
        }
        OrderFile {
            order_id,
            customer_id: format!("CUST-{customer:06}"),
            created_at: at.to_rfc3339_opts(SecondsFormat::Secs, true),
            currency: self.cfg.currency.clone(),
            amount: total,
            items,
        }
    }

    fn valid<C: Clock>(&mut self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let (at, id) = ctx.stamp();
        let order = self.order(ctx, at);
        if self.recent.len() >= ORDER_FILES_REMEMBERED_MAX {
            self.recent.pop_front();
        }
        self.recent.push_back(order.clone());
        let key = format!("{}.json", order.order_id);
        Self::item(id, key, Payload::OrderFile(order), Validity::Valid)
    }

    fn invalid<C: Clock>(&mut self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let (at, id) = ctx.stamp();
        let mut order = self.order(ctx, at);
        let reason = if ctx.fake.rng().gen_bool(0.5) {
            // The seed's own invalid example: amount −10 and no items.
            order.amount = Decimal::new(-1_000, 2);
            order.items.clear();
            InvalidReason::NoItems
        } else {
            order.amount += Decimal::new(100, 2);
            InvalidReason::AmountMismatch
        };
        let key = format!("{}.json", order.order_id);
        Self::item(
            id,
            key,
            Payload::OrderFile(order),
            Validity::Invalid(reason),
        )
    }
}

// ---------------------------------------------------------------------------------------
// S4 orders

const PRODUCTS: &[&str] = &[
    "laptop",
    "mouse",
    "keyboard",
    "monitor",
    "headset",
    "webcam",
    "charger",
    "usb-c-cable",
    "backpack",
    "docking-station",
    "phone",
    "tablet",
];

struct OrderGen {
    cfg: OrderTraffic,
}

impl OrderGen {
    fn new(cfg: OrderTraffic) -> Self {
        Self { cfg }
    }

    fn item(id: uuid::Uuid, request: OrderRequest, validity: Validity) -> GeneratedItem {
        GeneratedItem {
            id,
            route: Route::HttpPost(topics::ORDERS_PATH),
            key: request.user_id.clone(),
            payload: Payload::Order(request),
            validity,
        }
    }

    fn request<C: Clock>(&self, ctx: &mut Ctx<C>) -> OrderRequest {
        let user = ctx.fake.rng().gen_range(1..=self.cfg.users);
        let count = ctx.fake.rng().gen_range(1..=self.cfg.items_max);
        let items = (0..count)
            .map(|_| pick(ctx.fake.rng(), PRODUCTS).to_string())
            .collect();
        OrderRequest {
            user_id: format!("user-{user:05}"),
            amount: ctx.fake.amount(&self.cfg.amount),
            items,
        }
    }

    fn next<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        match roll_validity(
            ctx.fake.rng(),
            self.cfg.poison_share,
            self.cfg.invalid_share,
        ) {
            Roll::Valid => self.valid(ctx),
            Roll::Invalid => {
                let (_, id) = ctx.stamp();
                let mut request = self.request(ctx);
                let reason = if ctx.fake.rng().gen_bool(0.5) {
                    request.amount =
                        -request.amount * Decimal::from(ctx.fake.rng().gen_range(0..2));
                    InvalidReason::AmountNotPositive
                } else {
                    request.items.clear();
                    InvalidReason::NoItems
                };
                Self::item(id, request, Validity::Invalid(reason))
            }
            Roll::Poison => {
                let (_, id) = ctx.stamp();
                let user = ctx.fake.rng().gen_range(1..=self.cfg.users);
                GeneratedItem {
                    id,
                    route: Route::HttpPost(topics::ORDERS_PATH),
                    key: format!("user-{user:05}"),
                    payload: Payload::Poison {
                        kind: EventKind::Order,
                        bytes: json_poison(ctx.fake.rng()),
                    },
                    validity: Validity::Poison,
                }
            }
        }
    }

    fn valid<C: Clock>(&self, ctx: &mut Ctx<C>) -> GeneratedItem {
        let (_, id) = ctx.stamp();
        let request = self.request(ctx);
        Self::item(id, request, Validity::Valid)
    }
}
