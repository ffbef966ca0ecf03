//! Receiving several datagrams with one system call (`recvmmsg`, which
//! rustix does not offer).
//!
//! This module holds the crate's second `unsafe` code (the first registers
//! sockets with the reactor, in [`super::datagram`]): one call into libc
//! and the reading of what the kernel wrote into buffers this module owns.

use std::ffi::OsString;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use super::datagram::{Received, Sender};
use crate::context::PeerCredentials;

/// The most datagrams one call receives.
pub(crate) const MAX_BATCH: usize = 16;

/// Room for the ancillary data of one datagram: the sender's credentials,
/// and a few descriptors a hostile sender may attach (closed at once).
const CONTROL_WORDS: usize = 16;

/// One datagram's place: its buffer, and what the kernel says of it.
struct Slot {
    buf: Vec<u8>,
    name: libc::sockaddr_un,
    control: [u64; CONTROL_WORDS],
    received: Option<Received>,
}

/// Buffers for up to [`MAX_BATCH`] datagrams, reused from call to call.
pub(crate) struct RecvBatch {
    slots: Vec<Slot>,
    filled: usize,
}

impl RecvBatch {
    /// `slots` buffers of `size` bytes each (at least one, at most
    /// [`MAX_BATCH`]). The pages of a buffer cost memory only once a
    /// datagram that large has been received into it.
    pub(crate) fn new(slots: usize, size: usize) -> RecvBatch {
        let slots = (0..slots.clamp(1, MAX_BATCH))
            .map(|_| Slot {
                buf: vec![0u8; size],
                name: zeroed_addr(),
                control: [0; CONTROL_WORDS],
                received: None,
            })
            .collect();
        RecvBatch { slots, filled: 0 }
    }

    /// How many datagrams one call can receive.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// The datagrams the last [`recv`](Self::recv) received: each one's
    /// bytes (cut to its buffer) and what is known of it.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &Received)> {
        self.slots[..self.filled].iter().filter_map(|slot| {
            let meta = slot.received.as_ref()?;
            Some((&slot.buf[..meta.len], meta))
        })
    }

    /// Receives what is queued, up to one datagram per slot, without
    /// blocking (`WouldBlock` when nothing is): how many arrived.
    pub(crate) fn recv(&mut self, socket: &impl AsFd) -> io::Result<usize> {
        self.receive(socket, libc::MSG_DONTWAIT)
    }

    /// Receives what is queued, up to one datagram per slot, blocking the
    /// calling thread until the first one arrives (`MSG_WAITFORONE`: the
    /// rest are only those already queued, so a lone datagram is never
    /// held back for others). The socket must be in blocking mode; a
    /// signal's interruption is retried. Returns how many arrived.
    ///
    /// A receiving socket shut down for reading (`shutdown(SHUT_RD)`) ends
    /// the wait with one entry of no bytes, no sender and no credentials.
    pub(crate) fn recv_wait(&mut self, socket: &impl AsFd) -> io::Result<usize> {
        loop {
            match self.receive(socket, libc::MSG_WAITFORONE) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn receive(&mut self, socket: &impl AsFd, mode: libc::c_int) -> io::Result<usize> {
        self.filled = 0;
        let n = recvmmsg(socket, &mut self.slots, mode)?;
        self.filled = n;
        Ok(n)
    }
}

fn zeroed_addr() -> libc::sockaddr_un {
    libc::sockaddr_un {
        sun_family: 0,
        sun_path: [0; 108],
    }
}

/// What the kernel reported of one datagram, read from its slot.
struct Raw {
    len: usize,
    flags: libc::c_int,
    namelen: usize,
    credentials: Option<PeerCredentials>,
}

/// `recvmmsg(mode | MSG_TRUNC | MSG_CMSG_CLOEXEC)` into `slots`, `mode`
/// being `MSG_DONTWAIT` or `MSG_WAITFORONE`.
#[allow(unsafe_code)]
fn recvmmsg(socket: &impl AsFd, slots: &mut [Slot], mode: libc::c_int) -> io::Result<usize> {
    let count = slots.len().min(MAX_BATCH);
    // SAFETY: iovec and mmsghdr are plain C structs for which all zeroes
    // (null pointers, zero lengths) is a valid value.
    let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for (iov, slot) in iovs.iter_mut().zip(slots.iter_mut()) {
        iov.iov_base = slot.buf.as_mut_ptr().cast();
        iov.iov_len = slot.buf.len();
    }
    let iov_base = iovs.as_mut_ptr();
    for (i, (hdr, slot)) in hdrs.iter_mut().zip(slots.iter_mut()).enumerate() {
        let msg = &mut hdr.msg_hdr;
        msg.msg_name = (&raw mut slot.name).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // SAFETY: i < MAX_BATCH, inside `iovs`.
        msg.msg_iov = unsafe { iov_base.add(i) };
        msg.msg_iovlen = 1;
        msg.msg_control = slot.control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
    }
    let flags = mode | libc::MSG_TRUNC | libc::MSG_CMSG_CLOEXEC;
    // SAFETY: every header points at a name, an iovec and a control buffer
    // that live (borrowed mutably here) until the call returns, with their
    // true sizes; the kernel writes within them only.
    let got = unsafe {
        libc::recvmmsg(
            socket.as_fd().as_raw_fd(),
            hdrs.as_mut_ptr(),
            count as libc::c_uint,
            flags,
            std::ptr::null_mut(),
        )
    };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    let got = got as usize;
    for (hdr, slot) in hdrs[..got].iter().zip(slots.iter_mut()) {
        let raw = Raw {
            len: hdr.msg_len as usize,
            flags: hdr.msg_hdr.msg_flags,
            namelen: hdr.msg_hdr.msg_namelen as usize,
            // SAFETY: the kernel filled the control buffer `msg_controllen`
            // bytes long; the CMSG macros walk it within that length.
            credentials: unsafe { read_control(&hdr.msg_hdr) },
        };
        slot.received = Some(received(slot, raw));
    }
    Ok(got)
}

/// The sender's credentials in a received message's ancillary data; any
/// descriptors in it are closed.
///
/// # Safety
///
/// `msg` must be a header `recvmmsg` just filled in, its control buffer alive.
#[allow(unsafe_code)]
unsafe fn read_control(msg: &libc::msghdr) -> Option<PeerCredentials> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut credentials = None;
    // SAFETY: per this function's contract.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: CMSG_FIRSTHDR/NXTHDR return headers inside the buffer.
        let header = unsafe { std::ptr::read_unaligned(cmsg) };
        // SAFETY: as above; the data follows the header.
        let data = unsafe { libc::CMSG_DATA(cmsg) };
        // SAFETY: CMSG_LEN is arithmetic.
        let header_len = unsafe { libc::CMSG_LEN(0) } as usize;
        let payload = (header.cmsg_len as usize).saturating_sub(header_len);
        if header.cmsg_level == libc::SOL_SOCKET {
            if header.cmsg_type == libc::SCM_CREDENTIALS && payload >= size_of::<libc::ucred>() {
                // SAFETY: the payload holds a whole ucred.
                let cred: libc::ucred = unsafe { std::ptr::read_unaligned(data.cast()) };
                credentials = Some(PeerCredentials {
                    pid: cred.pid,
                    uid: cred.uid,
                    gid: cred.gid,
                });
            } else if header.cmsg_type == libc::SCM_RIGHTS {
                for i in 0..payload / size_of::<libc::c_int>() {
                    // SAFETY: the payload holds this many descriptors, now
                    // ours, each closed here once.
                    let fd: libc::c_int =
                        unsafe { std::ptr::read_unaligned(data.cast::<libc::c_int>().add(i)) };
                    drop(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        // SAFETY: `cmsg` is a header of `msg`'s buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    credentials
}

/// The [`Received`] of a slot the kernel filled.
fn received(slot: &Slot, raw: Raw) -> Received {
    let capacity = slot.buf.len();
    let truncated = raw.flags & libc::MSG_TRUNC != 0 || raw.len > capacity;
    // The path is what follows the family, up to its NUL; an empty or
    // abstract (leading NUL) name is no path to answer to.
    let family = size_of::<libc::sa_family_t>();
    let path_len = raw
        .namelen
        .saturating_sub(family)
        .min(slot.name.sun_path.len());
    let name = &slot.name.sun_path[..path_len];
    let len = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    let sender = if len == 0 {
        Sender::Anonymous
    } else {
        let bytes: Vec<u8> = name[..len].iter().map(|&c| c as u8).collect();
        Sender::Path(PathBuf::from(OsString::from_vec(bytes)))
    };
    Received {
        len: raw.len.min(capacity),
        truncated_from: truncated.then_some(raw.len),
        sender,
        credentials: raw.credentials,
    }
}
