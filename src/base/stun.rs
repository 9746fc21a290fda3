//! The STUN wire format (RFC 5389), as much as a Binding responder needs: checking that a
//! datagram is a well-formed Binding request and writing the success response that tells the
//! sender the address we saw (XOR-MAPPED-ADDRESS, plus MAPPED-ADDRESS for IPv4 clients that
//! only read that one, and FINGERPRINT). Pure functions over bytes: no sockets, no state.
//!
//! A response is never more than 2.6 times the size of the smallest request (52 bytes for a
//! 20-byte request), so the responder is useless for amplifying traffic towards a forged
//! source; anything that is not a valid Binding request gets no answer at all.

use std::net::{IpAddr, SocketAddr};

/// Every STUN message since RFC 5389 carries this after its type and length.
const MAGIC_COOKIE: u32 = 0x2112_A442;
const HEADER: usize = 20;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const MAPPED_ADDRESS: u16 = 0x0001;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const FINGERPRINT: u16 = 0x8028;
/// FINGERPRINT is the CRC-32 of the message before it, XORed with this ("STUN" in ASCII).
const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// The largest answer `answer` writes (IPv4: 52 bytes, IPv6: 52 bytes).
pub const MAX_ANSWER: usize = 64;

/// The success response to `request` from `from`, written into `out`; `None` (send nothing)
/// unless `request` is a well-formed Binding request.
pub fn answer(request: &[u8], from: SocketAddr, out: &mut [u8; MAX_ANSWER]) -> Option<usize> {
    let transaction = binding_request_id(request)?;
    let from = unmapped(from);
    out[..2].copy_from_slice(&BINDING_SUCCESS.to_be_bytes());
    out[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out[8..HEADER].copy_from_slice(transaction);
    let mut len = HEADER;
    len += write_address(&mut out[len..], XOR_MAPPED_ADDRESS, from, Some(transaction));
    if from.is_ipv4() {
        len += write_address(&mut out[len..], MAPPED_ADDRESS, from, None);
    }
    // The length counts the FINGERPRINT attribute, which is computed over everything before it.
    let body = (len + 8 - HEADER) as u16;
    out[2..4].copy_from_slice(&body.to_be_bytes());
    let crc = crc32(&out[..len]) ^ FINGERPRINT_XOR;
    out[len..len + 2].copy_from_slice(&FINGERPRINT.to_be_bytes());
    out[len + 2..len + 4].copy_from_slice(&4u16.to_be_bytes());
    out[len + 4..len + 8].copy_from_slice(&crc.to_be_bytes());
    Some(len + 8)
}

/// The transaction id of a well-formed Binding request: the header is right (zero top bits,
/// the magic cookie, a length that matches and is a multiple of 4), the attributes tile the
/// body exactly, and a FINGERPRINT, if present, is last and correct.
fn binding_request_id(message: &[u8]) -> Option<&[u8]> {
    if message.len() < HEADER || message.len() % 4 != 0 {
        return None;
    }
    let kind = u16::from_be_bytes([message[0], message[1]]);
    let length = usize::from(u16::from_be_bytes([message[2], message[3]]));
    let cookie = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
    if kind != BINDING_REQUEST || cookie != MAGIC_COOKIE || length != message.len() - HEADER {
        return None;
    }
    let mut at = HEADER;
    while at < message.len() {
        let header = message.get(at..at + 4)?;
        let kind = u16::from_be_bytes([header[0], header[1]]);
        let value_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let padded = value_len.div_ceil(4) * 4;
        let value = message.get(at + 4..at + 4 + value_len)?;
        let end = at + 4 + padded;
        if end > message.len() {
            return None;
        }
        if kind == FINGERPRINT {
            let expected = crc32(&message[..at]) ^ FINGERPRINT_XOR;
            if value_len != 4 || end != message.len() || value != expected.to_be_bytes() {
                return None;
            }
        }
        at = end;
    }
    Some(&message[8..HEADER])
}

/// An IPv4 client reaching an IPv6 socket shows as `::ffff:a.b.c.d`; it is told `a.b.c.d`.
fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

/// Writes a (XOR-)MAPPED-ADDRESS attribute; returns its length. With `transaction`, the port
/// and address are XORed with the magic cookie (and, for IPv6, the transaction id).
fn write_address(out: &mut [u8], kind: u16, addr: SocketAddr, transaction: Option<&[u8]>) -> usize {
    let mut key = [0u8; 16];
    if let Some(transaction) = transaction {
        key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        key[4..].copy_from_slice(transaction);
    }
    let (family, ip): (u8, Vec<u8>) = match addr.ip() {
        IpAddr::V4(v4) => (1, v4.octets().to_vec()),
        IpAddr::V6(v6) => (2, v6.octets().to_vec()),
    };
    let port = addr.port() ^ u16::from_be_bytes([key[0], key[1]]);
    let value_len = 4 + ip.len();
    out[..2].copy_from_slice(&kind.to_be_bytes());
    out[2..4].copy_from_slice(&(value_len as u16).to_be_bytes());
    out[4] = 0;
    out[5] = family;
    out[6..8].copy_from_slice(&port.to_be_bytes());
    for (i, byte) in ip.iter().enumerate() {
        out[8 + i] = byte ^ key[i];
    }
    4 + value_len
}

/// CRC-32 (IEEE 802.3, as in zlib), which FINGERPRINT uses.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// A Binding request with transaction id `id`, and a FINGERPRINT when asked (for the tests and
/// the benchmark, which include this file).
#[cfg_attr(not(test), allow(dead_code))]
pub fn binding_request(id: [u8; 12], fingerprint: bool) -> Vec<u8> {
    let mut message = Vec::with_capacity(28);
    message.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
    message.extend_from_slice(&(if fingerprint { 8u16 } else { 0 }).to_be_bytes());
    message.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    message.extend_from_slice(&id);
    if fingerprint {
        let crc = crc32(&message) ^ FINGERPRINT_XOR;
        message.extend_from_slice(&FINGERPRINT.to_be_bytes());
        message.extend_from_slice(&4u16.to_be_bytes());
        message.extend_from_slice(&crc.to_be_bytes());
    }
    message
}

/// Reads the address a Binding success response reports (XOR-MAPPED-ADDRESS), checking its
/// transaction id and FINGERPRINT; for clients of this module (tests, the benchmark).
pub fn mapped_address(response: &[u8], id: [u8; 12]) -> Option<SocketAddr> {
    if response.len() < HEADER
        || u16::from_be_bytes([response[0], response[1]]) != BINDING_SUCCESS
        || response[8..HEADER] != id
        || usize::from(u16::from_be_bytes([response[2], response[3]])) != response.len() - HEADER
    {
        return None;
    }
    let mut at = HEADER;
    let mut found = None;
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    key[4..].copy_from_slice(&id);
    while at + 4 <= response.len() {
        let kind = u16::from_be_bytes([response[at], response[at + 1]]);
        let len = usize::from(u16::from_be_bytes([response[at + 2], response[at + 3]]));
        let value = response.get(at + 4..at + 4 + len)?;
        match kind {
            XOR_MAPPED_ADDRESS if len >= 8 => {
                let port = u16::from_be_bytes([value[2], value[3]]) ^ 0x2112;
                let ip: Vec<u8> = value[4..].iter().zip(key).map(|(b, k)| b ^ k).collect();
                found = match (value[1], ip.len()) {
                    (1, 4) => Some(SocketAddr::new(<[u8; 4]>::try_from(ip).ok()?.into(), port)),
                    (2, 16) => Some(SocketAddr::new(<[u8; 16]>::try_from(ip).ok()?.into(), port)),
                    _ => None,
                };
            }
            FINGERPRINT => {
                let expected = crc32(&response[..at]) ^ FINGERPRINT_XOR;
                if value != expected.to_be_bytes() || at + 8 != response.len() {
                    return None;
                }
            }
            _ => {}
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: [u8; 12] = [
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ];

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn an_ipv4_answer_matches_rfc_5769() {
        // RFC 5769 §2.2: 192.0.2.1:32853 is carried as X-Port a147, X-Address e112a643.
        let from: SocketAddr = "192.0.2.1:32853".parse().unwrap();
        let mut out = [0u8; MAX_ANSWER];
        let n = answer(&binding_request(ID, false), from, &mut out).unwrap();
        assert_eq!(n, 52);
        assert_eq!(&out[..2], &[0x01, 0x01]);
        assert_eq!(&out[8..20], &ID);
        assert_eq!(
            &out[20..32],
            &[0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]
        );
        // MAPPED-ADDRESS in the clear for old clients.
        assert_eq!(
            &out[32..44],
            &[0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x80, 0x55, 192, 0, 2, 1]
        );
        assert_eq!(mapped_address(&out[..n], ID), Some(from));
    }

    #[test]
    fn an_ipv6_answer_round_trips_and_a_mapped_v4_sender_is_told_its_v4_address() {
        let from: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
            .parse()
            .unwrap();
        let mut out = [0u8; MAX_ANSWER];
        let n = answer(&binding_request(ID, true), from, &mut out).unwrap();
        assert_eq!(n, 52, "XOR-MAPPED-ADDRESS (24) and FINGERPRINT (8) only");
        assert_eq!(mapped_address(&out[..n], ID), Some(from));
        let mapped: SocketAddr = "[::ffff:10.0.0.7]:5000".parse().unwrap();
        let n = answer(&binding_request(ID, false), mapped, &mut out).unwrap();
        assert_eq!(
            mapped_address(&out[..n], ID),
            Some("10.0.0.7:5000".parse().unwrap())
        );
    }

    #[test]
    fn anything_but_a_well_formed_binding_request_gets_no_answer() {
        let from: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let mut out = [0u8; MAX_ANSWER];
        let good = binding_request(ID, true);
        assert!(answer(&good, from, &mut out).is_some());
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            good[..19].to_vec(),
            good[..good.len() - 1].to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ];
        let mut edit = |at: usize, byte: u8| {
            let mut bad = good.clone();
            bad[at] ^= byte;
            cases.push(bad);
        };
        edit(1, 0x10); // another method
        edit(0, 0x01); // a response, not a request
        edit(4, 0x01); // no magic cookie (RFC 3489)
        edit(3, 0x04); // a length that does not match
        edit(27, 0x01); // a wrong FINGERPRINT
        for bad in &cases {
            assert_eq!(answer(bad, from, &mut out), None, "{bad:02x?}");
        }
        // An attribute that runs past the end.
        let mut long = binding_request(ID, false);
        long[3] = 8;
        long.extend_from_slice(&[0x80, 0x22, 0x00, 0x10, b'a', b'b', b'c', b'd']);
        assert_eq!(answer(&long, from, &mut out), None);
    }
}
