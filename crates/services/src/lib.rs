//! edalab's services, each a pipeline on the shared runtime: they consume and produce
//! through the bus port and keep state through store ports, never through a concrete
//! backend. One module per service.

pub mod calculator;
pub mod intake;
pub mod ledger;
pub mod pipeline;
pub mod saga;
pub mod simulator;
pub mod transactions;
