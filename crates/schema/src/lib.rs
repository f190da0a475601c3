//! Avro schemas of the banking topics and the other pipelines' events, the Confluent wire
//! format (magic byte, 4-byte big-endian schema id, Avro binary body) and the schema
//! registry. Owns encoding and decoding; knows nothing of transports.
