//! TLS to PostgreSQL, asked for as libpq asks: `sslmode` and `sslrootcert` in the URL's
//! query (else `PGSSLMODE` and `PGSSLROOTCERT`).
//!
//! | `sslmode` | encrypted | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (default) | when the server offers it | checked against the root certificates when there are some, else not |
//! | `require` | always | as `prefer` |
//! | `verify-ca` | always | signed by a root certificate |
//! | `verify-full` | always | signed by a root certificate, and naming the URL's host |
//!
//! The root certificates are `sslrootcert` (a PEM file, or `system` for the public roots),
//! else `~/.postgresql/root.crt` when it exists. The driver knows neither the verifying
//! modes nor root files: both are taken out of the URL before it reads it. Beyond the Web
//! PKI's rules, a certificate the root file holds as it is, and a host named in the common
//! name only, are accepted as libpq accepts them (see [`super::certificate`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::env_vars::{PGSSLMODE, PGSSLROOTCERT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(text: &str) -> Result<Mode, String> {
        Ok(match text {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            // libpq's `allow` tries without TLS first: the nearest is to prefer TLS.
            "allow" => Mode::Prefer,
            _ => {
                return Err(format!(
                    "sslmode `{text}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ))
            }
        })
    }
}

/// What a catalog's connections ask of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    mode: Mode,
    root: Option<String>,
}

/// `url` without `sslmode` and `sslrootcert`, and what they (or the environment) ask.
/// The query is read where the driver reads it: after the credentials, which run to
/// the first `@` and may hold an unencoded `?`.
pub fn split(url: &str) -> Result<(String, Tls), String> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let after_credentials = after_scheme + url[after_scheme..].find('@').map_or(0, |i| i + 1);
    let (base, query) = match url[after_credentials..].find('?') {
        Some(q) => url.split_at(after_credentials + q),
        None => (url, "?"),
    };
    let query = &query[1..];
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = Some(decoded(value).map_err(|e| format!("`sslmode` {e}"))?),
            "sslrootcert" => {
                root = Some(decoded(value).map_err(|e| format!("`sslrootcert` {e}"))?)
            }
            "sslcert" | "sslkey" | "sslpassword" => {
                return Err(format!(
                    "`{key}`: client certificates are not supported; the catalog signs in with the URL's user and password"
                ))
            }
            _ => kept.push(pair),
        }
    }
    let mode = mode.or_else(|| std::env::var(PGSSLMODE).ok().filter(|m| !m.is_empty()));
    let root = root.or_else(|| std::env::var(PGSSLROOTCERT).ok().filter(|r| !r.is_empty()));
    let root = root.filter(|r| !r.is_empty());
    let system = root.as_deref() == Some("system");
    // The public roots sign certificates for anyone's hosts: with them, only the full
    // check says anything of the server (libpq's rule too).
    let default = if system {
        Mode::VerifyFull
    } else {
        Mode::Prefer
    };
    let mode = mode.as_deref().map_or(Ok(default), Mode::parse)?;
    if system && mode != Mode::VerifyFull {
        return Err("sslrootcert=system trusts the public roots, which sign certificates for anyone's hosts: it goes with sslmode=verify-full only (its default), which also checks that the certificate names the server's host".to_owned());
    }
    let url = match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((url, Tls { mode, root }))
}

/// A key or value of the query, as written before its percent-encoding.
pub fn decoded(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| "is not UTF-8 once its %-escapes are decoded".to_owned())
}

impl Tls {
    /// No TLS (connections over a Unix socket).
    pub fn disabled() -> Tls {
        Tls {
            mode: Mode::Disable,
            root: None,
        }
    }

    /// The driver's mode: whether TLS is asked for, and whether it may be done without.
    pub fn ssl_mode(&self) -> SslMode {
        match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }

    /// The connector for every connection: the root certificates are read once, here.
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = self.roots()?;
        let verifier = match (self.mode, roots) {
            (Mode::VerifyCa | Mode::VerifyFull, None) => {
                return Err(format!(
                    "sslmode={} checks the server's certificate against root certificates, and there are none: add sslrootcert=/path/to/root.crt to the URL (or, with verify-full, sslrootcert=system for the public roots), or put them in ~/.postgresql/root.crt",
                    if self.mode == Mode::VerifyCa { "verify-ca" } else { "verify-full" }
                ))
            }
            (_, None) => Verifier {
                provider: provider.clone(),
                chain: None,
                pinned: Vec::new(),
                full: false,
            },
            (mode, Some((roots, pinned))) => Verifier {
                provider: provider.clone(),
                chain: Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| format!("the root certificates cannot be used: {e}"))?,
                ),
                pinned,
                full: mode == Mode::VerifyFull,
            },
        };
        let verifier = Arc::new(verifier);
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS cannot be set up: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    /// The root certificates asked for, or found where libpq looks by default, and the
    /// root file's certificates as they are (none for the public roots).
    fn roots(&self) -> Result<Option<(RootCertStore, Vec<CertificateDer<'static>>)>, String> {
        if self.mode == Mode::Disable {
            return Ok(None);
        }
        if self.root.as_deref() == Some("system") {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            return Ok(Some((roots, Vec::new())));
        }
        let path = match &self.root {
            Some(p) => PathBuf::from(p),
            None => match default_root() {
                Some(p) if p.exists() => p,
                _ => return Ok(None),
            },
        };
        read_roots(&path).map(Some)
    }
}

fn default_root() -> Option<PathBuf> {
    Some(PathBuf::from(std::env::var_os("HOME")?).join(".postgresql/root.crt"))
}

fn read_roots(path: &Path) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let shown = path.display();
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|all| all.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("sslrootcert {shown} cannot be read as PEM certificates: {e}"))?;
    if certificates.is_empty() {
        return Err(format!("sslrootcert {shown} holds no PEM certificate"));
    }
    let mut roots = RootCertStore::empty();
    for c in &certificates {
        roots.add(c.clone()).map_err(|e| {
            format!("sslrootcert {shown} holds a certificate that cannot be a root: {e}")
        })?;
    }
    Ok((roots, certificates))
}

/// The server certificate's check, as `sslmode` asks and libpq does it:
/// - `chain` none (`require` and `prefer` without root certificates): encrypted, the
///   certificate unchecked, libpq's meaning;
/// - else signed by a root, and for `verify-full` (`full`) naming the URL's host, in its
///   `subjectAltName` or, when that has no entry of the host's kind, its common name;
/// - a self-signed certificate `pinned` holds as it is (the root file's) is trusted as
///   it is, once in date and, for `verify-full`, naming the host (see
///   [`super::certificate`]).
///
/// The handshake's signatures are checked either way.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    full: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pinned = self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref());
        if pinned && super::certificate::self_signed(end_entity) {
            super::certificate::check_pinned(end_entity, server_name, now, self.full)?;
            return Ok(ServerCertVerified::assertion());
        }
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // The chain is checked before the name: a name error means the chain is sound.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.full
                || super::certificate::named_in_common_name(end_entity, server_name) =>
            {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_parameters_are_taken_out_of_the_url() {
        let (url, tls) = split(
            "postgres://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem",
        )
        .unwrap();
        assert_eq!(url, "postgres://u@h/db?application_name=x");
        assert_eq!(
            tls,
            Tls {
                mode: Mode::VerifyFull,
                root: Some("/tmp/ca.pem".to_owned())
            }
        );
        assert_eq!(tls.ssl_mode(), SslMode::Require);
        let (url, tls) = split("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(
            (url.as_str(), tls.ssl_mode()),
            ("postgres://u@h/db", SslMode::Disable)
        );
        let e = split("postgres://u@h/db?sslmode=verify").unwrap_err();
        assert!(e.contains("verify-full"), "{e}");
        // Other parameters pass as written: nothing of them is read here, or shown.
        let (url, _) = split("postgres://u@h/db?password=a%zz&sslmode=require").unwrap();
        assert_eq!(url, "postgres://u@h/db?password=a%zz");
        // A password may hold an unencoded `?`: the query starts after the credentials.
        let (url, tls) = split("postgres://u:p?w@h/db?sslmode=require").unwrap();
        assert_eq!(url, "postgres://u:p?w@h/db");
        assert_eq!(tls.ssl_mode(), SslMode::Require);
        let e = split("postgres://u@h/db?sslcert=/c.pem").unwrap_err();
        assert!(e.contains("`sslcert`: client certificates"), "{e}");
    }

    #[test]
    fn verifying_modes_need_root_certificates() {
        let tls = Tls {
            mode: Mode::VerifyCa,
            root: Some("/no/such/root.crt".to_owned()),
        };
        let e = tls.connector().err().expect("no such file");
        assert!(e.contains("sslrootcert /no/such/root.crt"), "{e}");
        let (_, tls) = split("postgres://u@h/db?sslrootcert=system").unwrap();
        assert_eq!(tls.mode, Mode::VerifyFull);
        assert!(tls.connector().is_ok());
        let e = split("postgres://u@h/db?sslrootcert=system&sslmode=require").unwrap_err();
        assert!(e.contains("sslmode=verify-full only"), "{e}");
    }
}
