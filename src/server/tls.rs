//! TLS material: first-boot generation of a local CA (`ca.pem`, `ca-key.pem`, 10 years) and a
//! server certificate signed by it (`cert.pem`, `key.pem`) for every name and address this
//! machine answers on; loading the pair into a rustls server config. Admin-supplied
//! `cert.pem`/`key.pem` are used as they are.

use crate::base::config::write_new_private_file;
use anyhow::{bail, Context};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

pub use crate::base::config::{CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE};

/// Generates whatever TLS files are missing. When `cert.pem` or `key.pem` is absent, both are
/// (re)made, signed by the local CA, which is created too unless it already exists (so users
/// who trusted it once keep trusting the new certificate).
pub fn ensure_files(data_dir: &Path) -> anyhow::Result<()> {
    if data_dir.join(CERT_FILE).exists() && data_dir.join(KEY_FILE).exists() {
        return Ok(());
    }
    let ca_key_path = data_dir.join(CA_KEY_FILE);
    let ca_key = if ca_key_path.exists() {
        let pem = std::fs::read_to_string(&ca_key_path)
            .with_context(|| format!("cannot read {}", ca_key_path.display()))?;
        KeyPair::from_pem(&pem)
            .with_context(|| format!("{} is not a valid key", ca_key_path.display()))?
    } else {
        KeyPair::generate().context("cannot generate the CA key")?
    };
    // Rebuilding the CA from its fixed name and key yields the same issuer for signing.
    let ca_cert = ca_params()?
        .self_signed(&ca_key)
        .context("cannot create the local CA")?;
    if !ca_key_path.exists() {
        let _ = std::fs::remove_file(data_dir.join(CA_FILE));
        write_new_private_file(&ca_key_path, ca_key.serialize_pem().as_bytes())?;
        write_new_private_file(&data_dir.join(CA_FILE), ca_cert.pem().as_bytes())?;
    }

    let key = KeyPair::generate().context("cannot generate the server key")?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let host = crate::base::util::hostname();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        host.clone().unwrap_or_else(|| "localhost".into()),
    );
    let mut names: Vec<String> = vec!["localhost".to_owned()];
    names.extend(host.iter().flat_map(|h| local_names(h)));
    for name in names {
        if let Ok(dns) = name.try_into() {
            let san = SanType::DnsName(dns);
            if !params.subject_alt_names.contains(&san) {
                params.subject_alt_names.push(san);
            }
        }
    }
    let mut addrs: Vec<IpAddr> = vec!["127.0.0.1".parse()?, "::1".parse()?];
    for addr in interface_addresses() {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    params
        .subject_alt_names
        .extend(addrs.into_iter().map(SanType::IpAddress));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // 825 days: the longest validity Apple platforms accept for a TLS server certificate.
    set_validity(&mut params, 825)?;
    let cert = params
        .signed_by(&key, &ca_cert, &ca_key)
        .context("cannot sign the certificate")?;

    for file in [CERT_FILE, KEY_FILE] {
        let _ = std::fs::remove_file(data_dir.join(file));
    }
    write_new_private_file(&data_dir.join(KEY_FILE), key.serialize_pem().as_bytes())?;
    write_new_private_file(&data_dir.join(CERT_FILE), cert.pem().as_bytes())?;
    Ok(())
}

/// The names a machine called `host` answers to: the name itself and, for a bare name, the
/// `<name>.local` that mDNS (avahi on Raspberry Pi OS and most Linux desktops, Bonjour on
/// macOS) announces, which is what phones on the network resolve.
pub fn local_names(host: &str) -> Vec<String> {
    let mut names = vec![host.to_owned()];
    if !host.contains('.') {
        names.push(format!("{host}.local"));
    }
    names
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "MiniMost");
    params
        .distinguished_name
        .push(DnType::CommonName, "MiniMost local CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut params, 3653)?;
    Ok(params)
}

/// From yesterday (tolerating clock skew) to `days` from now, at day precision.
fn set_validity(params: &mut CertificateParams, days: i64) -> anyhow::Result<()> {
    let now = crate::base::util::now() as i64;
    let date = |secs: i64| {
        let (y, m, d, ..) = crate::base::util::civil_from_unix(secs);
        // Day 29+ does not exist in every month; the 28th always does.
        rcgen::date_time_ymd(y as i32, m as u8, d.min(28) as u8)
    };
    if now < 0 {
        bail!("the system clock is before 1970");
    }
    params.not_before = date(now - 86_400);
    params.not_after = date(now + days * 86_400);
    Ok(())
}

/// Every IPv4/IPv6 address on a local interface (loopback included).
pub fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list we walk read-only and free exactly once.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut cur = list;
        while !cur.is_null() {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    out
}

/// The rustls server configuration for `cert.pem`/`key.pem` (HTTP/1.1 only, ring provider).
pub fn server_config(data_dir: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let cert_path = data_dir.join(CERT_FILE);
    let key_path = data_dir.join(KEY_FILE);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|iter| iter.collect::<Result<_, _>>())
        .with_context(|| format!("cannot read certificates from {}", cert_path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", cert_path.display());
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("cannot read the private key from {}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "{} and {} do not form a usable pair",
                cert_path.display(),
                key_path.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The SHA-256 fingerprint of the first certificate in a PEM file, as `AB:CD:…` (what a phone
/// shows when asked to trust a CA), or `None` if the file holds none.
pub fn fingerprint(pem: &[u8]) -> Option<String> {
    use sha2::Digest;
    let der = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .next()?
        .ok()?;
    let digest = sha2::Sha256::digest(der.as_ref());
    Some(
        digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}
