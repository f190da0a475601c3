//! W3C trace context (`traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`):
//! parsing, generation, and the trace of the current task.
//!
//! The current trace travels in a task-local ([`scope`], [`current`]): the HTTP layer sets
//! it per request (from the request's `traceparent` or a new root), the producer wrapper
//! ([`super::InstrumentedBus`]) writes a child of it into every record's
//! [`TRACEPARENT`](edalab_bus::port::headers::TRACEPARENT) header, and the consumer wrapper
//! ([`super::Measured`]) continues the trace found in a message. So one trace id spans
//! HTTP request → produce → consume → store, and every log line carries it.
//! Exporting spans (OTLP) is [`super::otlp`]'s job, which keeps the exported span ids and this
//! context in step (ADR 012).

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use edalab_bus::port::{Message, Record, headers::TRACEPARENT};
use rand::RngCore;

/// A W3C `traceparent` value (version 00).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    /// The id of the span that produced this context (the parent of the next span).
    pub span_id: [u8; 8],
    pub flags: u8,
}

/// Why a `traceparent` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid traceparent {value:?}: {reason}")]
pub struct TraceParentError {
    pub value: String,
    pub reason: &'static str,
}

/// The `sampled` flag.
pub const FLAG_SAMPLED: u8 = 0x01;

impl TraceParent {
    /// A new root: random trace and span ids, sampled.
    pub fn new_root() -> Self {
        let mut rng = rand::thread_rng();
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        // All-zero ids are invalid; the chance is negligible but the fix is one line.
        while trace_id == [0; 16] {
            rng.fill_bytes(&mut trace_id);
        }
        while span_id == [0; 8] {
            rng.fill_bytes(&mut span_id);
        }
        Self {
            trace_id,
            span_id,
            flags: FLAG_SAMPLED,
        }
    }

    /// The same trace, a new span id (the context a child span hands on).
    pub fn child(&self) -> Self {
        let mut span_id = [0u8; 8];
        while span_id == [0; 8] {
            rand::thread_rng().fill_bytes(&mut span_id);
        }
        Self { span_id, ..*self }
    }

    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }

    /// Writes this context into `record`'s headers, replacing any previous one.
    pub fn inject(&self, record: &mut Record) {
        record.headers.retain(|(name, _)| name != TRACEPARENT);
        record
            .headers
            .push((TRACEPARENT.to_owned(), self.to_string().into_bytes()));
    }

    /// The context carried by `message`, if it has a valid one.
    pub fn extract(message: &Message) -> Option<Self> {
        let value = message.header(TRACEPARENT)?;
        std::str::from_utf8(value).ok()?.parse().ok()
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.span_id),
            self.flags
        )
    }
}

impl FromStr for TraceParent {
    type Err = TraceParentError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let fail = |reason| TraceParentError {
            value: value.chars().take(64).collect(),
            reason,
        };
        let parts: Vec<&str> = value.trim().split('-').collect();
        let [version, trace, span, flags] = parts[..] else {
            return Err(fail("expected 4 dash-separated fields"));
        };
        if version.len() != 2 || version == "ff" {
            return Err(fail("bad version"));
        }
        if version == "00" && parts.len() != 4 {
            return Err(fail("version 00 has exactly 4 fields"));
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        let mut flag = [0u8; 1];
        unhex(trace, &mut trace_id)
            .ok_or_else(|| fail("trace id is not 32 lowercase hex digits"))?;
        unhex(span, &mut span_id).ok_or_else(|| fail("span id is not 16 lowercase hex digits"))?;
        unhex(flags, &mut flag).ok_or_else(|| fail("flags are not 2 hex digits"))?;
        if trace_id == [0; 16] {
            return Err(fail("trace id is all zeros"));
        }
        if span_id == [0; 8] {
            return Err(fail("span id is all zeros"));
        }
        Ok(Self {
            trace_id,
            span_id,
            flags: flag[0],
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn unhex(text: &str, out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(())
}

tokio::task_local! {
    static CURRENT: TraceParent;
}

/// Runs `future` with `trace` as the current trace context.
pub async fn scope<F: Future>(trace: TraceParent, future: F) -> F::Output {
    CURRENT.scope(trace, future).await
}

/// The current task's trace context, if it runs inside [`scope`].
pub fn current() -> Option<TraceParent> {
    CURRENT.try_with(|t| *t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_w3c_example() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed: TraceParent = text.parse().expect("valid");
        assert_eq!(parsed.to_string(), text);
        assert_eq!(parsed.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert!(bad.parse::<TraceParent>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn generated_values_parse_and_children_keep_the_trace() {
        let root = TraceParent::new_root();
        let again: TraceParent = root.to_string().parse().expect("valid");
        assert_eq!(root, again);
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
    }
}
