//! edalab's domain: money, the ledger's rules, orders, the order saga, submitted
//! transactions, calculator operations and the event contracts.
//!
//! This crate owns the business rules and the wire shapes of every event. It may not
//! touch I/O: no async runtime, no database, no HTTP, no broker. Clocks and ids come in
//! as arguments, so every rule is deterministic and testable with plain unit and
//! property tests.

pub mod calculator;
pub mod events;
pub mod ledger;
pub mod money;
pub mod order;
pub mod saga;
pub mod transaction;
pub mod validation;

pub use money::{Currency, Money};
pub use validation::{ErrorBody, FieldError, ValidationErrors};
