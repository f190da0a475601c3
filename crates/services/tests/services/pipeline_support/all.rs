//! The four pipelines together, for the tests that drive them at once (the process's own
//! assembly is `edalab`'s service table): start them on one bus and data dir, merge their
//! `/api/v1` routes and OpenAPI operations into one router, list every topic, and give
//! the simulator its sink onto them.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use edalab_bus::{Bus, TopicConfig};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use edalab_services::pipeline::sim_sink::PipelineSink;
use edalab_services::pipeline::{Env, Shutdown, StartError, StoreChoice};
use edalab_services::{calculator, intake, saga, transactions};

/// The pipelines' tags (the operations and schemas come from the handlers).
#[derive(OpenApi)]
#[openapi(
    tags(
        (name = "transactions", description = "S0: banking transactions (submit, status, analytics)"),
        (name = "calculator", description = "S1: calculator over queues"),
        (name = "intake", description = "S2: order files dropped in <data>/inbox/orders"),
        (name = "orders", description = "S4: order saga (orders, payment, tracking)"),
    )
)]
struct PipelinesDoc;

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

/// Starts the four pipelines on `bus` with their default settings and SQLite stores, their
/// files and folders (stores, the S0 archive, the S2 inbox) under `data_dir`; panics if one
/// cannot start (a test's failure).
pub async fn start_all(bus: Arc<dyn Bus>, data_dir: &Path, shutdown: Shutdown) -> Pipelines {
    let env = Env::new(bus, data_dir, StoreChoice::Sqlite, shutdown);
    let started = async {
        Ok::<_, StartError>(Pipelines {
            transactions: transactions::start(&env).await?,
            calculator: calculator::start(&env).await?,
            intake: intake::start(&env).await?,
            saga: saga::start(&env).await?,
        })
    };
    started.await.expect("the four pipelines start")
}

impl Pipelines {
    /// Every pipeline's `/api/v1` routes with their OpenAPI operations (no two share a
    /// path), for `edalab_gateway::Mount::new`.
    pub fn openapi_router(&self) -> OpenApiRouter {
        OpenApiRouter::with_openapi(PipelinesDoc::openapi())
            .merge(transactions::api::openapi_router(
                self.transactions.state.clone(),
            ))
            .merge(calculator::api::openapi_router(
                self.calculator.state.clone(),
            ))
            .merge(intake::api::openapi_router(self.intake.state.clone()))
            .merge(saga::api::openapi_router(self.saga.state.clone()))
    }

    /// Every pipeline's `/api/v1` routes in one router.
    pub fn router(&self) -> Router {
        self.openapi_router().split_for_parts().0
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

impl Pipelines {
    /// The simulator's sink onto these pipelines (`SimulationControl::set_sink`).
    pub fn simulator_sink(&self) -> Arc<PipelineSink> {
        Arc::new(PipelineSink::new(
            self.transactions.state.clone(),
            self.saga.state.clone(),
            self.intake.state.inbox.clone(),
        ))
    }
}
