//! Confluent wire format framing: byte 0 is the magic byte `0x00`, bytes 1..5 the schema
//! id (big-endian `u32`), the rest the Avro binary body (a single datum, no container
//! header). Only the frame: what the body means is [`crate::codec`]'s business.

use crate::catalog::SchemaId;
use crate::error::WireError;

/// The Confluent magic byte.
pub const MAGIC_BYTE: u8 = 0x00;
/// Length of the header: magic byte + schema id.
pub const HEADER_LEN: usize = 5;

/// Frames `body` with the header for `id`.
pub fn frame(id: SchemaId, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
    write_header(id, &mut bytes);
    bytes.extend_from_slice(body);
    bytes
}

/// Appends the header for `id` to `out` (the body is to follow).
pub fn write_header(id: SchemaId, out: &mut Vec<u8>) {
    let [a, b, c, d] = id.0.to_be_bytes();
    out.extend_from_slice(&[MAGIC_BYTE, a, b, c, d]);
}

/// Splits a framed message into its schema id and Avro body.
pub fn unframe(bytes: &[u8]) -> Result<(SchemaId, &[u8]), WireError> {
    let Some((header, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(WireError::TooShort { len: bytes.len() });
    };
    let [magic, id @ ..] = *header;
    if magic != MAGIC_BYTE {
        return Err(WireError::BadMagic { found: magic });
    }
    Ok((SchemaId(u32::from_be_bytes(id)), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_unframes() {
        let bytes = frame(SchemaId(0x0102_0304), b"body");
        assert_eq!(
            bytes,
            [0x00, 0x01, 0x02, 0x03, 0x04, b'b', b'o', b'd', b'y']
        );
        let (id, body) = unframe(&bytes).unwrap();
        assert_eq!(id, SchemaId(0x0102_0304));
        assert_eq!(body, b"body");
        // A header alone is a valid frame with an empty body.
        assert_eq!(unframe(&[0, 0, 0, 0, 7]).unwrap(), (SchemaId(7), &[][..]));
    }

    #[test]
    fn rejects_short_and_foreign_messages() {
        assert!(matches!(unframe(&[]), Err(WireError::TooShort { len: 0 })));
        assert!(matches!(
            unframe(&[0, 0, 0, 1]),
            Err(WireError::TooShort { len: 4 })
        ));
        assert!(matches!(
            unframe(b"{\"event_id\":1}"),
            Err(WireError::BadMagic { found: b'{' })
        ));
        let err = unframe(&[0x01, 0, 0, 0, 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bad magic byte 0x01, expected 0x00 (Confluent wire format)"
        );
    }
}
