//! The `shinrai` binary (being written).
fn main() {}
