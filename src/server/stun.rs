//! The built-in STUN responder for calls: UDP `stun_port` on `0.0.0.0` and `[::]` (an IPv6-only
//! socket beside the IPv4 one, so neither depends on the host's dual-stack setting). One thread
//! answers Binding requests with the address it saw (`base::stun`) and drops everything else
//! unanswered. It sleeps in poll(2) beside the shutdown `Stop` while no datagram arrives.

use crate::base::stop::Stop;
use crate::base::stun::{answer, MAX_ANSWER};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The bound sockets (one or both families), or `None` when the port is 0 or nothing could be
/// bound; binding failures are logged once, as a warning: the server runs on without STUN.
pub fn bind(port: u16) -> Option<Vec<UdpSocket>> {
    if port == 0 {
        return None;
    }
    let mut sockets = Vec::new();
    let mut failures = Vec::new();
    match UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)) {
        Ok(socket) => sockets.push(socket),
        Err(e) => failures.push(format!("0.0.0.0:{port}: {e}")),
    }
    match bind_ipv6_only(port) {
        Ok(socket) => sockets.push(socket),
        // A host without IPv6 is normal; say so only if IPv4 failed too.
        Err(e) => failures.push(format!("[::]:{port}: {e}")),
    }
    if sockets.is_empty() {
        crate::log!(
            "warning: calls will work only where browsers find each other without STUN: cannot \
             bind the STUN port ({}); free UDP port {port} or set \"stun_port\" in \
             settings.json (0 turns STUN off)",
            failures.join("; ")
        );
        return None;
    }
    for socket in &sockets {
        if let Err(e) = socket.set_nonblocking(true) {
            crate::log!("warning: no STUN: cannot make its socket non-blocking: {e}");
            return None;
        }
    }
    Some(sockets)
}

/// Answers Binding requests on `sockets` until `stop`.
pub fn serve(sockets: &[UdpSocket], stop: &Stop) {
    let fds: Vec<_> = sockets.iter().map(AsRawFd::as_raw_fd).collect();
    let mut datagram = [0u8; 1500];
    let mut out = [0u8; MAX_ANSWER];
    while !stop.is_stopped() {
        if let Err(e) = stop.wait_fds(&fds, libc::POLLIN) {
            crate::log!("warning: STUN stopped: {e}");
            return;
        }
        for socket in sockets {
            loop {
                match socket.recv_from(&mut datagram) {
                    Ok((n, from)) => {
                        if let Some(len) = answer(&datagram[..n], from, &mut out) {
                            // A full send buffer or an unreachable sender costs that answer only.
                            let _ = socket.send_to(&out[..len], from);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // ICMP errors from earlier answers surface here; the next datagram is fine.
                    Err(_) => continue,
                }
            }
        }
    }
}

/// A UDP socket on `[::]:port` that takes IPv6 only (IPv4 has its own socket).
fn bind_ipv6_only(port: u16) -> std::io::Result<UdpSocket> {
    // SAFETY: socket returns a new descriptor we own, or -1.
    let fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor owned by nobody else; OwnedFd closes it on every path.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads an int from a valid pointer of the right size.
    let set = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: an all-zero sockaddr_in6 is the unspecified address; we set family and port.
    let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    addr.sin6_port = port.to_be();
    // SAFETY: bind reads a sockaddr_in6 of the given size from a valid pointer.
    let bound = unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    if bound != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(UdpSocket::from(owned))
}

/// The port the responder answers on, for the ICE configuration clients get.
pub fn port_of(sockets: &[UdpSocket]) -> Option<u16> {
    sockets
        .first()
        .and_then(|s| s.local_addr().ok())
        .map(|a: SocketAddr| a.port())
}
