//! The simulator's in-process [`RouteSink`] for `edalab up`: S0 transactions and S4
//! orders go through the very service functions the HTTP routes call
//! ([`transactions::api::submit_transaction`], [`saga::api::create_order`]), so a simulated
//! item is validated, stored and published exactly as a posted one; S2 order files are
//! dropped into the intake's inbox atomically ([`intake::write_order_file`]) and the
//! watcher picks them up like any other file.
//!
//! S0/S4 items of a batch are delivered with bounded concurrency ([`IN_FLIGHT_MAX`]): each
//! waits for a durable produce, and overlapping produces share the bus's group commit. S0
//! and S4 have no ordering between requests (each gets its own id), so the order in which
//! they reach their queue within a batch does not matter; files are written in order.
//!
//! A 4xx answer (the scenario's invalid and poison bodies) is a [`Delivery::Refused`]; a
//! 5xx (the bus or a store unavailable) or a file that cannot be written is a
//! [`Delivery::Failed`].

use std::path::PathBuf;

use async_trait::async_trait;
use futures::StreamExt;

use super::ApiError;
use crate::simulator::items::topics::{ORDER_FILES_PREFIX, ORDERS_PATH, TRANSACTIONS_PATH};
use crate::simulator::{Delivery, Outgoing, Route, RouteSink};
use crate::{intake, saga, transactions};

/// Most S0/S4 items of one batch in flight at once: each one is a store write and a
/// produce waiting for durability, which the bus commits together when they overlap.
const IN_FLIGHT_MAX: usize = 32;

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

    /// Writes the order files among `items` in order, in one blocking task; answers
    /// (index, delivery) per file.
    async fn write_files(&self, items: &[Outgoing]) -> Vec<(usize, Delivery)> {
        let files: Vec<(usize, String, Vec<u8>)> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| matches!(item.route, Route::File(_)))
            .map(|(i, item)| (i, item.key.clone(), item.body.clone()))
            .collect();
        if files.is_empty() {
            return Vec::new();
        }
        let inbox = self.inbox.clone();
        let indices: Vec<usize> = files.iter().map(|(i, _, _)| *i).collect();
        let written = tokio::task::spawn_blocking(move || {
            files
                .into_iter()
                .map(|(i, name, body)| {
                    let delivery = match intake::write_order_file(&inbox, &name, &body) {
                        Ok(path) => Delivery::Accepted {
                            reference: path
                                .file_name()
                                .map(|name| name.to_string_lossy().into_owned()),
                        },
                        Err(error) => Delivery::Failed {
                            reason: format!("writing order file `{name}`: {error}"),
                        },
                    };
                    (i, delivery)
                })
                .collect::<Vec<_>>()
        })
        .await;
        written.unwrap_or_else(|error| {
            indices
                .into_iter()
                .map(|i| {
                    (
                        i,
                        Delivery::Failed {
                            reason: format!("order file writer: {error}"),
                        },
                    )
                })
                .collect()
        })
    }

    /// One S0 or S4 item through its pipeline's service function.
    async fn post(&self, item: &Outgoing) -> Delivery {
        match item.route {
            Route::HttpPost(TRANSACTIONS_PATH) => answer(
                transactions::api::submit_transaction(&self.transactions, &item.body).await,
                "transactionId",
            ),
            Route::HttpPost(ORDERS_PATH) => answer(
                saga::api::create_order(&self.saga, &item.body).await,
                "orderId",
            ),
            route => Delivery::Failed {
                reason: format!("no pipeline takes route `{}`", route.name()),
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
        Err(error) if error.status().is_client_error() => Delivery::Refused {
            status: error.status().as_u16(),
            reason: error.message,
        },
        Err(error) => Delivery::Failed {
            reason: format!("{}: {}", error.status(), error.message),
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
        let mut out: Vec<Option<Delivery>> = vec![None; items.len()];
        for (i, delivery) in self.write_files(items).await {
            out[i] = Some(delivery);
        }
        // Indices only: closures over `&Outgoing` trip the async-trait lifetimes.
        let posts: Vec<usize> = (0..items.len())
            .filter(|&i| !matches!(items[i].route, Route::File(_)))
            .collect();
        let answers: Vec<Delivery> = futures::stream::iter(posts.iter().copied())
            .map(|i| self.post(&items[i]))
            .buffered(IN_FLIGHT_MAX)
            .collect()
            .await;
        for (i, delivery) in posts.into_iter().zip(answers) {
            out[i] = Some(delivery);
        }
        out.into_iter()
            .map(|delivery| {
                delivery.unwrap_or(Delivery::Failed {
                    reason: "not delivered".to_owned(),
                })
            })
            .collect()
    }
}
