//! The four pipelines together, for `edalab up` and the gateway: start them on one bus and
//! data dir, merge their `/api/v1` routes into one router, list every topic.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use edalab_bus::{Bus, TopicConfig};

use super::{Shutdown, StartError};
use crate::{calculator, intake, saga, transactions};

/// The running pipelines.
pub struct Pipelines {
    pub transactions: transactions::Transactions,
    pub calculator: calculator::Calculator,
    pub intake: intake::Intake,
    pub saga: saga::Saga,
}

/// Every pipeline topic with its settings (S0, S1, S2, S4).
pub fn topics() -> Vec<(&'static str, TopicConfig)> {
    let mut all = transactions::topics();
    all.extend(calculator::topics());
    all.extend(intake::topics());
    all.extend(saga::topics());
    all
}

/// Starts the four pipelines with their default settings.
pub async fn start_all(
    bus: Arc<dyn Bus>,
    data_dir: &Path,
    shutdown: Shutdown,
) -> Result<Pipelines, StartError> {
    Ok(Pipelines {
        transactions: transactions::start(bus.clone(), data_dir, shutdown.clone()).await?,
        calculator: calculator::start(bus.clone(), data_dir, shutdown.clone()).await?,
        intake: intake::start(bus.clone(), data_dir, shutdown.clone()).await?,
        saga: saga::start(bus, data_dir, shutdown).await?,
    })
}

impl Pipelines {
    /// Every pipeline's `/api/v1` routes in one router (no two share a path).
    pub fn router(&self) -> Router {
        transactions::api::router(self.transactions.state.clone())
            .merge(calculator::api::router(self.calculator.state.clone()))
            .merge(intake::api::router(self.intake.state.clone()))
            .merge(saga::api::router(self.saga.state.clone()))
    }

    /// Waits for every task of every pipeline (after the shutdown signal).
    pub async fn join(self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        for handles in [
            self.transactions.handles,
            self.calculator.handles,
            self.intake.handles,
            self.saga.handles,
        ] {
            if let Err(mut e) = handles.join().await {
                errors.append(&mut e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
