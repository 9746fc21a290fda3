//! `minimost healthcheck [--url BASE]`: asks a server's `/healthz` over HTTPS (trusting the
//! data dir's own CA) or HTTP, for Docker's HEALTHCHECK and scripts. Exits non-zero when the
//! server does not answer healthy.

use anyhow::{bail, Context};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// `minimost healthcheck [--url BASE]`: without `--url`, the server running on the data dir
/// says where it answers (scheme, address and port), else `fallback`.
pub fn healthcheck(data_dir: &Path, url: Option<String>, fallback: &str) -> anyhow::Result<()> {
    let url = url
        .or_else(|| super::control::whereabouts(data_dir).map(|(url, _)| url))
        .unwrap_or_else(|| fallback.to_owned());
    let url = url.as_str();
    let (tls, rest) = match url.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => bail!("--url must start with https:// or http://"),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>().context("bad port in --url")?,
        ),
        _ => (authority, if tls { 443 } else { 80 }),
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("cannot resolve {host}"))?;
    let tcp = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    if tls {
        let config = client_config(data_dir, addr.ip().is_loopback() || host == "localhost")?;
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .context("bad host in --url")?;
        let conn = rustls::ClientConnection::new(config, name)?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream.write_all(request.as_bytes())?;
        let _ = stream.read_to_end(&mut answer);
    } else {
        let mut tcp = tcp;
        tcp.write_all(request.as_bytes())?;
        let _ = tcp.read_to_end(&mut answer);
    }
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    if status_line.split(' ').nth(1) == Some("200") {
        println!("ok: {url}/healthz answered {status_line}");
        Ok(())
    } else if status_line.is_empty() {
        bail!("{url}/healthz gave no answer (TLS refused or connection closed)")
    } else {
        bail!("{url}/healthz answered {status_line}")
    }
}

fn client_config(data_dir: &Path, loopback: bool) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = if loopback {
        // On this machine any certificate will do: the check is whether the server answers.
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let ca = data_dir.join(crate::base::config::CA_FILE);
        if let Ok(certs) = rustls::pki_types::CertificateDer::pem_file_iter(&ca) {
            for cert in certs.flatten() {
                roots.add(cert)?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
