//! Verifiable log (stub, being written).
