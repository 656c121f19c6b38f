//! A server certificate read as libpq reads it where the Web PKI's rules stop short: a
//! certificate the root file holds as it is (the self-signed server certificate
//! PostgreSQL's documentation makes, which is also a CA) is trusted as it is, if it signs
//! itself; and a certificate with no subjectAltName entry of the host's kind names the
//! host its (first) common name names.

use std::net::IpAddr;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::CertificateError;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::time::ASN1Time;

fn parsed<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, rustls::Error> {
    X509Certificate::from_der(der.as_ref())
        .map(|(_, c)| c)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))
}

/// Whether `der` signs itself (its issuer is its subject): only such a certificate in the
/// root file is a root, and may be the server's own (OpenSSL's rule, which libpq keeps).
pub fn self_signed(der: &CertificateDer<'_>) -> bool {
    parsed(der).is_ok_and(|c| c.issuer().as_raw() == c.subject().as_raw())
}

/// A self-signed certificate the root file holds as it is: it must be in date and, for
/// `verify-full` (`full`), name the server.
pub fn check_pinned(
    der: &CertificateDer<'_>,
    server: &ServerName<'_>,
    now: UnixTime,
    full: bool,
) -> Result<(), rustls::Error> {
    let certificate = parsed(der)?;
    let validity = certificate.validity();
    let now = i64::try_from(now.as_secs())
        .ok()
        .and_then(|s| ASN1Time::from_timestamp(s).ok())
        .ok_or(rustls::Error::InvalidCertificate(
            CertificateError::BadEncoding,
        ))?;
    if now < validity.not_before {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > validity.not_after {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    if full && !names(&certificate, server) {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName,
        ));
    }
    Ok(())
}

/// Whether a certificate names `server` in its common name, having no subjectAltName of
/// the server's kind (a DNS name for a host name, an address for an address): libpq's
/// fallback, where the Web PKI reads subjectAltName only.
pub fn named_in_common_name(der: &CertificateDer<'_>, server: &ServerName<'_>) -> bool {
    parsed(der).is_ok_and(|c| names(&c, server))
}

/// The first common name of the subject, the one libpq reads.
fn common_name<'a>(certificate: &'a X509Certificate<'_>) -> Option<&'a str> {
    certificate
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
}

fn alternative_names<'a>(certificate: &X509Certificate<'a>) -> Vec<GeneralName<'a>> {
    match certificate.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.clone(),
        _ => Vec::new(),
    }
}

/// Whether `certificate` names `server`: among its subjectAltName entries of the server's
/// kind (addresses for an address, DNS names for a host name), or, with none of that
/// kind, in its (first) common name.
fn names(certificate: &X509Certificate<'_>, server: &ServerName<'_>) -> bool {
    let alternatives = alternative_names(certificate);
    match server {
        ServerName::IpAddress(ip) => {
            let ip = IpAddr::from(*ip);
            let octets = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            let addresses: Vec<&[u8]> = alternatives
                .iter()
                .filter_map(|n| match n {
                    GeneralName::IPAddress(a) => Some(*a),
                    _ => None,
                })
                .collect();
            match addresses.is_empty() {
                false => addresses.contains(&octets.as_slice()),
                true => common_name(certificate).is_some_and(|cn| cn.parse::<IpAddr>() == Ok(ip)),
            }
        }
        ServerName::DnsName(host) => {
            let host = host.as_ref();
            let dns: Vec<&str> = alternatives
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(*d),
                    _ => None,
                })
                .collect();
            match dns.is_empty() {
                false => dns.iter().any(|p| host_matches(p, host)),
                true => common_name(certificate).is_some_and(|cn| host_matches(cn, host)),
            }
        }
        _ => false,
    }
}

/// `pattern` (a name, or `*.` and a name: any one label before it) against `host`,
/// ignoring case and a final dot.
fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail.eq_ignore_ascii_case(rest)),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
mod tests {
    use super::host_matches;

    #[test]
    fn a_wildcard_stands_for_one_label() {
        assert!(host_matches("db.example.com", "DB.example.com."));
        assert!(host_matches("*.example.com", "db.example.com"));
        assert!(!host_matches("*.example.com", "a.db.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("db.example.com", "db.example.org"));
    }
}
