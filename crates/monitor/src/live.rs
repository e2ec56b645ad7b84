//! Live capture from a network interface through an AF_PACKET socket (Linux), with the safe
//! `nix` API: no libpcap, no unsafe code. Needs root or CAP_NET_RAW.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{
    AddressFamily, LinkAddr, SockFlag, SockProtocol, SockType, recvfrom, setsockopt, socket,
    sockopt,
};
use nix::sys::time::TimeVal;

use crate::capture::Frame;
use crate::error::{MonitorError, Result};

const PACKET_OUTGOING: u8 = 4;

/// An open live capture.
pub struct LiveCapture {
    fd: OwnedFd,
    interface: String,
    ifindex: usize,
    skip_outgoing: bool,
    buf: Vec<u8>,
    number: u64,
}

impl LiveCapture {
    /// Opens a raw socket receiving every frame of `interface`. `read_timeout` bounds each
    /// [`LiveCapture::next_frame`] call so the caller can check for shutdown.
    pub fn open(interface: &str, read_timeout: Duration) -> Result<Self> {
        let err = |reason: String| MonitorError::Live {
            interface: interface.to_string(),
            reason,
        };
        let ifindex = nix::net::if_::if_nametoindex(interface)
            .map_err(|e| err(format!("no such interface ({e})")))? as usize;
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::EthAll,
        )
        .map_err(|e| err(format!("raw socket: {e} (needs root or CAP_NET_RAW)")))?;
        let tv = TimeVal::new(
            read_timeout.as_secs() as _,
            read_timeout.subsec_micros() as _,
        );
        setsockopt(&fd, sockopt::ReceiveTimeout, &tv).map_err(|e| err(format!("timeout: {e}")))?;
        Ok(Self {
            fd,
            interface: interface.to_string(),
            ifindex,
            skip_outgoing: interface == "lo",
            buf: vec![0u8; 65_536],
            number: 0,
        })
    }

    /// Waits for the next frame of the interface; `None` when the read timeout expired.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>> {
        loop {
            match recvfrom::<LinkAddr>(self.fd.as_raw_fd(), &mut self.buf) {
                Ok((n, addr)) => {
                    let Some(addr) = addr else { continue };
                    if addr.ifindex() != self.ifindex
                        || (self.skip_outgoing && addr.pkttype() == PACKET_OUTGOING)
                    {
                        continue;
                    }
                    self.number += 1;
                    let ts = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_micros() as i64);
                    let len = n.min(self.buf.len());
                    return Ok(Some(Frame {
                        number: self.number,
                        ts_us: ts,
                        data: &self.buf[..len],
                        orig_len: n as u32,
                    }));
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => return Ok(None),
                Err(e) => {
                    return Err(MonitorError::Live {
                        interface: self.interface.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }
}
