//! Consumer runtime (being written).
