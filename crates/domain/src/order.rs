//! TODO(foundation): being written.
