//! Signed statements (stub, being written).
