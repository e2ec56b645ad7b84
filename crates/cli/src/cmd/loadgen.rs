//! A lean HTTP/1.1 load generator for `shinrai bench store`: keep-alive connections on loopback
//! posting pre-built requests, so the client's own CPU takes as little as possible from the
//! server it measures on the same cores.
