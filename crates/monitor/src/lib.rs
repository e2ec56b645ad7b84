//! OT anomaly detection (stub, being written).
