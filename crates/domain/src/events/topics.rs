//! Topic and queue names, exactly as the seeds spell them (S0-02/04, S1-01, S3-02, S4-01/02).
//!
//! Every producer, consumer, admin command and schema subject takes its names from here,
//! so a typo is a compile error rather than a silently empty topic.

// --- S3 EDA-Lab banking topics (S3-02) -------------------------------------------------

/// `CompteOuvert` events.
pub const ACCOUNT_OPENED: &str = "bancaire.compte.ouvert";
/// `CompteFerme` events.
pub const ACCOUNT_CLOSED: &str = "bancaire.compte.ferme";
/// `DepotEffectue` events.
pub const DEPOSIT_MADE: &str = "bancaire.depot.effectue";
/// `RetraitEffectue` events.
pub const WITHDRAWAL_MADE: &str = "bancaire.retrait.effectue";
/// `VirementEmis` events.
pub const TRANSFER_ISSUED: &str = "bancaire.virement.emis";
/// `VirementRecu` events.
pub const TRANSFER_RECEIVED: &str = "bancaire.virement.recu";
/// `PaiementPrimeEffectue` events.
pub const PREMIUM_PAID: &str = "bancaire.paiement-prime.effectue";
/// `OperationRejetee` events: the ledger's business refusals (insufficient funds...).
pub const OPERATION_REJECTED: &str = "bancaire.operation.rejetee";
/// Dead letters of the banking pipeline (S3-02).
pub const SYSTEM_DLQ: &str = "system.dlq";

/// The seven banking event topics of S3-02, in the order of the seed.
pub const BANKING_EVENTS: [&str; 7] = [
    ACCOUNT_OPENED,
    ACCOUNT_CLOSED,
    DEPOSIT_MADE,
    WITHDRAWAL_MADE,
    TRANSFER_ISSUED,
    TRANSFER_RECEIVED,
    PREMIUM_PAID,
];

/// Every banking topic to create: the event topics, the rejection topic and the DLQ.
pub const BANKING_ALL: [&str; 9] = [
    ACCOUNT_OPENED,
    ACCOUNT_CLOSED,
    DEPOSIT_MADE,
    WITHDRAWAL_MADE,
    TRANSFER_ISSUED,
    TRANSFER_RECEIVED,
    PREMIUM_PAID,
    OPERATION_REJECTED,
    SYSTEM_DLQ,
];

// --- S0 transactions pipeline (S0-02, S0-04) -------------------------------------------

/// Queue of submitted transactions (`QueuedTransaction`).
pub const TRANSACTIONS_QUEUE: &str = "transactions";
/// Dead-letter queue of [`TRANSACTIONS_QUEUE`].
pub const TRANSACTIONS_DLQ: &str = "transactions-dlq";
/// `TransactionProcessed` events, keyed by `transactionId` (3 partitions).
pub const TRANSACTIONS_EVENTS: &str = "transactions-events";
/// `FraudAlert` messages (2 partitions).
pub const FRAUD_ALERTS: &str = "fraud-alerts";
/// `TransactionNotification` messages (2 partitions).
pub const NOTIFICATIONS: &str = "notifications";

// --- S1 calculator (S1-01) -------------------------------------------------------------

/// Calculator requests (`CalculationRequest`).
pub const CALCULATOR_INPUT: &str = "calculatrice-input-queue";
/// Calculator results (`CalculationResult`).
pub const CALCULATOR_OUTPUT: &str = "calculatrice-output-queue";

// --- S4 order saga (S4-01, S4-02) ------------------------------------------------------

/// `OrderCreated` events, keyed by `orderId`.
pub const ORDERS_CREATED: &str = "orders.created";
/// `PaymentAuthorized` events, keyed by `orderId`.
pub const PAYMENTS_AUTHORIZED: &str = "payments.authorized";
/// `PaymentRejected` events, keyed by `orderId`.
pub const PAYMENTS_REJECTED: &str = "payments.rejected";
/// Poison messages of the order stream.
pub const ORDERS_DLQ: &str = "orders.dlq";
/// Poison messages of the payment service.
pub const PAYMENTS_DLQ: &str = "payments.dlq";
