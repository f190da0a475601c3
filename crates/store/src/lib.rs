//! Store ports and implementations (being written).
