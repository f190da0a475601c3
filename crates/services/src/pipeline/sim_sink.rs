//! The simulator's in-process [`RouteSink`] for `edalab up`: S0 transactions and S4
//! orders go through the very service functions the HTTP routes call
//! ([`transactions::api::submit_transaction`], [`saga::api::create_order`]), so a simulated
//! item is validated, stored and published exactly as a posted one; S2 order files are
//! dropped into the intake's inbox atomically ([`intake::write_order_file`]) and the
//! watcher picks them up like any other file.
//!
//! A 4xx answer (the scenario's invalid and poison bodies) is a [`Delivery::Refused`]; a
//! 5xx (the bus or a store unavailable) or a file that cannot be written is a
//! [`Delivery::Failed`].

use std::path::PathBuf;

use async_trait::async_trait;

use super::ApiError;
use super::all::Pipelines;
use crate::simulator::items::topics::{ORDER_FILES_PREFIX, ORDERS_PATH, TRANSACTIONS_PATH};
use crate::simulator::{Delivery, Outgoing, Route, RouteSink};
use crate::{intake, saga, transactions};

/// Delivers the simulator's HTTP- and file-routed items to the running pipelines.
#[derive(Clone)]
pub struct PipelineSink {
    transactions: transactions::TransactionsState,
    saga: saga::SagaState,
    /// The intake's inbox (`<data>/inbox/orders`).
    inbox: PathBuf,
}

impl PipelineSink {
    pub fn new(
        transactions: transactions::TransactionsState,
        saga: saga::SagaState,
        inbox: PathBuf,
    ) -> Self {
        Self {
            transactions,
            saga,
            inbox,
        }
    }

    async fn write_file(&self, item: &Outgoing) -> Delivery {
        let inbox = self.inbox.clone();
        let name = item.key.clone();
        let body = item.body.clone();
        match tokio::task::spawn_blocking(move || intake::write_order_file(&inbox, &name, &body))
            .await
        {
            Ok(Ok(path)) => Delivery::Accepted {
                reference: path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned()),
            },
            Ok(Err(error)) => Delivery::Failed {
                reason: format!("writing order file `{}`: {error}", item.key),
            },
            Err(error) => Delivery::Failed {
                reason: format!("writing order file `{}`: {error}", item.key),
            },
        }
    }
}

/// A service function's answer as a delivery; `field` names the id in a 2xx body.
fn answer(
    result: Result<(axum::http::StatusCode, axum::Json<serde_json::Value>), ApiError>,
    field: &str,
) -> Delivery {
    match result {
        Ok((_, axum::Json(body))) => Delivery::Accepted {
            reference: body[field].as_str().map(str::to_owned),
        },
        Err(error) if error.status.is_client_error() => Delivery::Refused {
            status: error.status.as_u16(),
            reason: error.error,
        },
        Err(error) => Delivery::Failed {
            reason: format!("{}: {}", error.status, error.error),
        },
    }
}

#[async_trait]
impl RouteSink for PipelineSink {
    fn delivers(&self, route: Route) -> bool {
        matches!(
            route,
            Route::HttpPost(TRANSACTIONS_PATH | ORDERS_PATH) | Route::File(ORDER_FILES_PREFIX)
        )
    }

    async fn deliver(&self, items: &[Outgoing]) -> Vec<Delivery> {
        let mut out = Vec::with_capacity(items.len());
        // In order: one account's transactions keep their order on the queue.
        for item in items {
            out.push(match item.route {
                Route::HttpPost(TRANSACTIONS_PATH) => answer(
                    transactions::api::submit_transaction(&self.transactions, &item.body).await,
                    "transactionId",
                ),
                Route::HttpPost(ORDERS_PATH) => answer(
                    saga::api::create_order(&self.saga, &item.body).await,
                    "orderId",
                ),
                Route::File(ORDER_FILES_PREFIX) => self.write_file(item).await,
                route => Delivery::Failed {
                    reason: format!("no pipeline takes route `{}`", route.name()),
                },
            });
        }
        out
    }
}

impl Pipelines {
    /// The simulator's sink onto these pipelines (`SimulationControl::set_sink`).
    pub fn simulator_sink(&self) -> std::sync::Arc<PipelineSink> {
        std::sync::Arc::new(PipelineSink::new(
            self.transactions.state.clone(),
            self.saga.state.clone(),
            self.intake.state.inbox.clone(),
        ))
    }
}
