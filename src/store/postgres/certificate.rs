//! A server certificate read as libpq reads it where the Web PKI's rules stop short: a
//! certificate the root file holds as it is (the self-signed server certificate
//! PostgreSQL's documentation makes, which is also a CA) is trusted as it is; and a
//! certificate that names its host in its common name only, with no DNS name in its
//! subjectAltName, names that host.

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

/// A certificate the root file holds as it is: it must be in date and, for `verify-full`
/// (`full`), name the server.
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

/// Whether a certificate with no DNS name in its subjectAltName names `server` in its
/// common name (libpq's fallback; the Web PKI reads subjectAltName only).
pub fn named_in_common_name(der: &CertificateDer<'_>, server: &ServerName<'_>) -> bool {
    parsed(der).is_ok_and(|c| dns_names(&c).is_empty() && names(&c, server))
}

fn dns_names<'a>(certificate: &X509Certificate<'a>) -> Vec<&'a str> {
    alternative_names(certificate)
        .into_iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn alternative_names<'a>(certificate: &X509Certificate<'a>) -> Vec<GeneralName<'a>> {
    match certificate.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.clone(),
        _ => Vec::new(),
    }
}

/// Whether `certificate` names `server`: an address among its subjectAltName addresses,
/// a host among its DNS names, or, with no DNS name there, in its common name.
fn names(certificate: &X509Certificate<'_>, server: &ServerName<'_>) -> bool {
    let alternatives = alternative_names(certificate);
    let common_names = || {
        certificate
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .collect::<Vec<_>>()
    };
    match server {
        ServerName::IpAddress(ip) => {
            let ip = IpAddr::from(*ip);
            let octets = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            let listed = alternatives
                .iter()
                .any(|n| matches!(n, GeneralName::IPAddress(a) if *a == octets.as_slice()));
            listed
                || (alternatives.is_empty()
                    && common_names()
                        .iter()
                        .any(|cn| cn.parse::<IpAddr>() == Ok(ip)))
        }
        ServerName::DnsName(host) => {
            let host = host.as_ref();
            let dns = dns_names(certificate);
            let patterns = if dns.is_empty() { common_names() } else { dns };
            patterns.iter().any(|p| host_matches(p, host))
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
