//! # shinrai-server: the Shinrai HTTP API (being written)
