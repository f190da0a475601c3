//! The `security` section of the configuration (ADR 018, `docs/security.md`): bearer
//! tokens (SHA-256 at rest), the `Host` names accepted besides the listen address, and the
//! limits that keep a slow or greedy client from holding the server (header-read timeout,
//! WebSocket write timeout, WebSocket connections per client IP).
//!
//! A plain token (`security.token`, usually `EDALAB__SECURITY__TOKEN`) is hashed while it
//! is read: no plain token is kept in memory past deserialization, printed or serialized.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Shortest plain token accepted (`openssl rand -hex 32` gives 64 characters).
pub const TOKEN_CHARS_MIN: usize = 16;
/// Longest plain token accepted (it travels in a header or a WebSocket subprotocol).
pub const TOKEN_CHARS_MAX: usize = 256;

/// The `security` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Accepted bearer tokens, as lowercase hex SHA-256 digests
    /// (`printf %s "$TOKEN" | sha256sum`).
    pub tokens: Vec<TokenHash>,
    /// One accepted token in plain text, hashed when read (`EDALAB__SECURITY__TOKEN`).
    /// Never written back out.
    #[serde(skip_serializing, deserialize_with = "plain_token")]
    pub token: Option<TokenHash>,
    /// `Host` names accepted besides those the listen address implies (a DNS name, a
    /// compose service name, `name:port`); `"*"` turns the `Host` check off.
    pub allowed_hosts: Vec<String>,
    /// A connection that has not sent a request's whole header block in this time is
    /// closed.
    pub header_read_timeout_ms: u64,
    /// A WebSocket frame the client does not take within this time disconnects it and frees
    /// its slot.
    pub ws_send_timeout_ms: u64,
    /// WebSocket connections at most from one client IP address.
    pub ws_clients_per_ip_max: usize,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            token: None,
            allowed_hosts: Vec::new(),
            header_read_timeout_ms: 10_000,
            ws_send_timeout_ms: 10_000,
            ws_clients_per_ip_max: 64,
        }
    }
}

impl SecurityConfig {
    /// Every accepted token hash (`tokens` and the hashed `token`).
    pub fn token_hashes(&self) -> Vec<TokenHash> {
        self.tokens.iter().chain(&self.token).copied().collect()
    }

    /// Whether writes and `/ws` need a token.
    pub fn auth_required(&self) -> bool {
        !self.tokens.is_empty() || self.token.is_some()
    }

    /// `(dotted key, message)` for every problem, given where the server listens.
    pub fn problems(&self, listen: SocketAddr) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !listen.ip().is_loopback() && !self.auth_required() {
            problems.push((
                "security.token",
                format!(
                    "server.listen is {listen}, not a loopback address: a token is required \
                     (set security.token / EDALAB__SECURITY__TOKEN, or security.tokens to \
                     SHA-256 hashes), or listen on 127.0.0.1"
                ),
            ));
        }
        for host in &self.allowed_hosts {
            let valid = host == "*"
                || (!host.is_empty()
                    && host.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')
                    }));
            if !valid {
                problems.push((
                    "security.allowed_hosts",
                    format!("invalid host {host:?} (expected a name, name:port or \"*\")"),
                ));
            }
        }
        for (key, value) in [
            (
                "security.header_read_timeout_ms",
                self.header_read_timeout_ms,
            ),
            ("security.ws_send_timeout_ms", self.ws_send_timeout_ms),
            (
                "security.ws_clients_per_ip_max",
                self.ws_clients_per_ip_max as u64,
            ),
        ] {
            if value == 0 {
                problems.push((key, "must be at least 1".to_owned()));
            }
        }
        problems
    }
}

/// The SHA-256 digest of a bearer token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The digest of `token` as presented by a client.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// The digest of an operator's plain token, once its form is checked.
    pub fn of_plain(token: &str) -> Result<Self, String> {
        let chars = token.chars().count();
        if !(TOKEN_CHARS_MIN..=TOKEN_CHARS_MAX).contains(&chars) {
            return Err(format!(
                "a token must have {TOKEN_CHARS_MIN} to {TOKEN_CHARS_MAX} characters (got {chars}); \
                 generate one with `openssl rand -hex 32`"
            ));
        }
        if !token.chars().all(is_token_char) {
            return Err(
                "a token may only contain letters, digits and - . _ ~ (it travels in a \
                 WebSocket subprotocol); generate one with `openssl rand -hex 32`"
                    .to_owned(),
            );
        }
        Ok(Self::of(token))
    }
}

/// Characters a token may hold: those of an RFC 7230 token that need no escaping in a URL.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", hex::encode(self.0))
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut digest = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut digest).map_err(|_| {
            serde::de::Error::custom(
                "expected a SHA-256 digest in hex (64 characters; `printf %s \"$TOKEN\" | \
                 sha256sum`), not a plain token (that goes in security.token)",
            )
        })?;
        Ok(Self(digest))
    }
}

/// `security.token`: a plain token, hashed here; empty means none.
fn plain_token<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<TokenHash>, D::Error> {
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    TokenHash::of_plain(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_parse_from_hex_and_plain_tokens_are_checked() {
        let hash = TokenHash::of("correct-horse-battery-staple");
        let text = serde_json::to_string(&hash).expect("serialize");
        let back: TokenHash = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, hash);
        assert!(serde_json::from_str::<TokenHash>("\"not-hex\"").is_err());
        assert!(TokenHash::of_plain("short").is_err());
        assert!(TokenHash::of_plain("has spaces in it, sixteen+").is_err());
        assert_eq!(
            TokenHash::of_plain("correct-horse-battery-staple").expect("valid"),
            hash
        );
    }

    #[test]
    fn off_loopback_a_token_is_required() {
        let config = SecurityConfig::default();
        let loopback: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let everywhere: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        assert!(config.problems(loopback).is_empty());
        let problems = config.problems(everywhere);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "security.token");
        let with_token = SecurityConfig {
            token: Some(TokenHash::of("0123456789abcdef")),
            ..SecurityConfig::default()
        };
        assert!(with_token.problems(everywhere).is_empty());
    }
}
