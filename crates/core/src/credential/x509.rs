//! The X.509 identity provider (RFC 9420 §5.3, `x509` credentials; RFC 5280 path validation,
//! simplified as documented on [`X509IdentityProvider`]).
//!
//! Crate choice: certificates are parsed with RustCrypto's `x509-cert` (over `der` and
//! `spki`, which the RustCrypto backend already depends on). It is a pure-Rust, `no_std`,
//! panic-free DER parser that does no cryptography of its own, so every certificate
//! signature is verified through our own [`CipherSuiteProvider`] of the matching scheme
//! (the same code, and the same backend, as every MLS signature). `webpki` verifies
//! through `ring`/`aws-lc-rs` with its own algorithm set and has no Ed448 and no way to plug
//! our providers in; `x509-parser` verifies through `ring` too. The price is that path
//! validation is ours; it is deliberately small (see [`X509IdentityProvider`]).

use conclave_crypto::{CipherSuiteProvider, CryptoProvider, SignatureAlgorithm};
use x509_cert::Certificate;
use x509_cert::der::asn1::{AnyRef, ObjectIdentifier};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, SubjectAltName};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::{CredentialCheck, CredentialError, IdentityProvider};
use crate::messages::{Credential, CredentialType};

const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
/// id-ml-dsa-44, -65, -87 (RFC 9881 §2): both the public-key and the signature algorithm,
/// parameters absent.
const ML_DSA_44: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.17");
const ML_DSA_65: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.18");
const ML_DSA_87: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.19");

/// Extensions we understand well enough to accept when marked critical (RFC 5280 §4.2:
/// a certificate with an unrecognised critical extension MUST be rejected).
const KNOWN_CRITICAL: [ObjectIdentifier; 6] = [
    ObjectIdentifier::new_unwrap("2.5.29.19"), // basicConstraints
    ObjectIdentifier::new_unwrap("2.5.29.15"), // keyUsage
    ObjectIdentifier::new_unwrap("2.5.29.17"), // subjectAltName
    ObjectIdentifier::new_unwrap("2.5.29.37"), // extKeyUsage (not restricted further)
    ObjectIdentifier::new_unwrap("2.5.29.14"), // subjectKeyIdentifier
    ObjectIdentifier::new_unwrap("2.5.29.35"), // authorityKeyIdentifier
];

/// Index used in errors about a configured trust anchor rather than a chain entry.
const ANCHOR_INDEX: usize = usize::MAX;

/// Which presented identifier of the end-entity certificate is the client's identity
/// (RFC 9420 §5.3: "It is up to the application to decide which identifiers to use").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum X509Identity {
    /// The first `uniformResourceIdentifier` of the subjectAltName extension (the usual
    /// choice for messaging identities such as `im:` or `https:` URIs). The default.
    #[default]
    SanUri,
    /// The first `dNSName` of the subjectAltName extension.
    SanDns,
    /// The first `rfc822Name` (e-mail address) of the subjectAltName extension.
    SanEmail,
    /// The subject's (first) commonName, as UTF-8.
    CommonName,
    /// The DER encoding of the whole subject Name.
    SubjectDer,
}

impl X509Identity {
    fn describe(self) -> &'static str {
        match self {
            Self::SanUri => "subjectAltName URI",
            Self::SanDns => "subjectAltName dNSName",
            Self::SanEmail => "subjectAltName rfc822Name",
            Self::CommonName => "subject commonName",
            Self::SubjectDer => "subject",
        }
    }
}

/// A parsed certificate with the exact bytes its signature covers.
struct ParsedCert {
    der: Vec<u8>,
    tbs: Vec<u8>,
    cert: Certificate,
}

impl ParsedCert {
    fn parse(der: &[u8], index: usize) -> Result<Self, CredentialError> {
        let parse_err = |e: x509_cert::der::Error| CredentialError::CertificateParse {
            index,
            reason: e.to_string(),
        };
        let cert = Certificate::from_der(der).map_err(parse_err)?;
        // The signature covers the TBSCertificate exactly as transmitted: take its TLV from
        // the input rather than re-encoding the parsed value.
        let tbs = AnyRef::from_der(der)
            .and_then(|outer| {
                outer.sequence(|reader| {
                    let tbs = x509_cert::der::Reader::tlv_bytes(reader)?;
                    let _algorithm = x509_cert::der::Reader::tlv_bytes(reader)?;
                    let _signature = x509_cert::der::Reader::tlv_bytes(reader)?;
                    Ok(tbs.to_vec())
                })
            })
            .map_err(parse_err)?;
        Ok(Self {
            der: der.to_vec(),
            tbs,
            cert,
        })
    }

    fn spki(&self) -> &SubjectPublicKeyInfoOwned {
        self.cert.tbs_certificate().subject_public_key_info()
    }

    fn basic_constraints(&self, index: usize) -> Result<Option<BasicConstraints>, CredentialError> {
        self.cert
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .map(|found| found.map(|(_, bc)| bc))
            .map_err(|e| CredentialError::CertificateParse {
                index,
                reason: format!("basicConstraints: {e}"),
            })
    }

    fn key_usage(&self, index: usize) -> Result<Option<KeyUsage>, CredentialError> {
        self.cert
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .map(|found| found.map(|(_, ku)| ku))
            .map_err(|e| CredentialError::CertificateParse {
                index,
                reason: format!("keyUsage: {e}"),
            })
    }
}

/// The signature scheme and raw public key (RFC 9420 encoding: RFC 8032 bytes, or
/// uncompressed SEC1 as carried in the SPKI) of a SubjectPublicKeyInfo.
fn spki_key(spki: &SubjectPublicKeyInfoOwned) -> Option<(SignatureAlgorithm, &[u8])> {
    let key = spki.subject_public_key.as_bytes()?;
    let scheme = match spki.algorithm.oid {
        oid if oid == ED25519 => SignatureAlgorithm::Ed25519,
        oid if oid == ED448 => SignatureAlgorithm::Ed448,
        // RFC 9881 §4: the raw `pkEncode` bytes in the BIT STRING, parameters absent.
        oid if spki.algorithm.parameters.is_none() && ml_dsa_scheme(oid).is_some() => {
            ml_dsa_scheme(oid)?
        }
        oid if oid == EC_PUBLIC_KEY => {
            let curve: ObjectIdentifier = spki.algorithm.parameters.as_ref()?.decode_as().ok()?;
            match curve {
                c if c == SECP256R1 => SignatureAlgorithm::EcdsaP256Sha256,
                c if c == SECP384R1 => SignatureAlgorithm::EcdsaP384Sha384,
                c if c == SECP521R1 => SignatureAlgorithm::EcdsaP521Sha512,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((scheme, key))
}

/// The scheme a certificate signature algorithm OID denotes, if it is one an MLS cipher
/// suite uses (the ECDSA curve/hash pairings of RFC 9420 §5.1; parameters must be absent,
/// RFC 5758 §3.2, RFC 8410 §3).
fn signature_scheme_of(oid: ObjectIdentifier) -> Option<SignatureAlgorithm> {
    match oid {
        o if o == ED25519 => Some(SignatureAlgorithm::Ed25519),
        o if o == ED448 => Some(SignatureAlgorithm::Ed448),
        o if o == ECDSA_SHA256 => Some(SignatureAlgorithm::EcdsaP256Sha256),
        o if o == ECDSA_SHA384 => Some(SignatureAlgorithm::EcdsaP384Sha384),
        o if o == ECDSA_SHA512 => Some(SignatureAlgorithm::EcdsaP521Sha512),
        o => ml_dsa_scheme(o),
    }
}

/// The ML-DSA parameter set an OID names (RFC 9881 §2; pure ML-DSA with an empty context,
/// RFC 9881 §3, which is how the MLS suites of draft-ietf-mls-pq-ciphersuites sign too).
fn ml_dsa_scheme(oid: ObjectIdentifier) -> Option<SignatureAlgorithm> {
    match oid {
        o if o == ML_DSA_44 => Some(SignatureAlgorithm::MlDsa44),
        o if o == ML_DSA_65 => Some(SignatureAlgorithm::MlDsa65),
        o if o == ML_DSA_87 => Some(SignatureAlgorithm::MlDsa87),
        _ => None,
    }
}

/// Validates `x509` credentials against configured trust anchors (RFC 9420 §5.3, §5.3.1).
///
/// For a credential `certificates = [end-entity, intermediate…]` (end-entity first, as
/// RFC 9420 §5.3 requires) and a supplied time `now`:
///
/// * every certificate parses as DER X.509 and has no critical extension outside
///   basicConstraints, keyUsage, subjectAltName, extKeyUsage, subject/authority key
///   identifier (RFC 5280 §4.2);
/// * every certificate of the chain is within its validity period at `now` (trust anchors
///   themselves are not checked: they are configuration, RFC 5280 §6.1.1 (d));
/// * walking from the end-entity: if the certificate is (byte-for-byte) a trust anchor, the
///   chain is trusted; otherwise its issuer is the next certificate of the chain or, after
///   the last one, a trust anchor whose subject equals its issuer name (RFC 9420 §5.3: "A
///   chain MAY omit any non-leaf certificates that supported peers are known to already
///   possess"). The issuer's subject must equal the issuer name (binary comparison), the
///   issuer must be a CA (basicConstraints `cA`, and keyUsage `keyCertSign` if keyUsage is
///   present), its pathLenConstraint must hold, and the signature must verify under the
///   issuer key, through the [`CipherSuiteProvider`] of the matching scheme;
/// * the end-entity's key is of the group's signature scheme and equal to the LeafNode's
///   `signature_key` (RFC 9420 §5.3: "MUST be identical"), and if it has keyUsage, it
///   includes digitalSignature.
///
/// Supported signature algorithms are those of the MLS suites: Ed25519, Ed448, ECDSA
/// with P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, and ML-DSA-44/65/87 (RFC 9881, for the
/// suites of draft-ietf-mls-pq-ciphersuites that sign with it); RSA and other curve/hash
/// pairings are rejected as unsupported. Not implemented: revocation (CRL/OCSP need I/O; RFC 9420 §5.3.2
/// leaves it to the application, which can wrap this provider), name constraints and
/// policies (a critical one is rejected), and case-insensitive name matching.
///
/// The identity ([`IdentityProvider::identity`]) is the end-entity certificate's identifier
/// chosen by [`X509Identity`] (default: the first subjectAltName URI). A successor
/// credential must present the same identity.
pub struct X509IdentityProvider {
    anchors: Vec<ParsedCert>,
    verifiers: Vec<(SignatureAlgorithm, Box<dyn CipherSuiteProvider>)>,
    identity: X509Identity,
    revoked: Option<RevocationList>,
}

/// Identities the Authentication Service revoked (RFC 9420 §5.3.2), shared so that the
/// application can update it while groups use the provider.
pub type RevocationList = std::sync::Arc<std::sync::RwLock<std::collections::HashSet<Vec<u8>>>>;

impl core::fmt::Debug for X509IdentityProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("X509IdentityProvider")
            .field("anchors", &self.anchors.len())
            .field(
                "schemes",
                &self.verifiers.iter().map(|(s, _)| s).collect::<Vec<_>>(),
            )
            .field("identity", &self.identity)
            .finish()
    }
}

impl X509IdentityProvider {
    /// A provider trusting the given DER certificates as trust anchors, verifying
    /// certificate signatures with `crypto`'s suites (one provider per signature scheme
    /// that `crypto` supports). Fails if an anchor does not parse.
    pub fn new<I, C>(trust_anchors: I, crypto: &dyn CryptoProvider) -> Result<Self, CredentialError>
    where
        I: IntoIterator<Item = C>,
        C: AsRef<[u8]>,
    {
        let anchors = trust_anchors
            .into_iter()
            .map(|der| ParsedCert::parse(der.as_ref(), ANCHOR_INDEX))
            .collect::<Result<Vec<_>, _>>()?;
        let mut verifiers: Vec<(SignatureAlgorithm, Box<dyn CipherSuiteProvider>)> = Vec::new();
        for suite in crypto.supported_cipher_suites() {
            if let Some(cs) = crypto.cipher_suite_provider(suite) {
                let scheme = cs.signature();
                if !verifiers.iter().any(|(s, _)| *s == scheme) {
                    verifiers.push((scheme, cs));
                }
            }
        }
        Ok(Self {
            anchors,
            verifiers,
            identity: X509Identity::default(),
            revoked: None,
        })
    }

    /// Refuses credentials whose identity is in `revoked` (RFC 9420 §5.3.2).
    #[must_use]
    pub fn with_revocation_list(mut self, revoked: RevocationList) -> Self {
        self.revoked = Some(revoked);
        self
    }

    /// Chooses which identifier of the end-entity certificate is the identity.
    #[must_use]
    pub fn with_identity(mut self, identity: X509Identity) -> Self {
        self.identity = identity;
        self
    }

    fn parse_chain(credential: &Credential) -> Result<Vec<ParsedCert>, CredentialError> {
        let Credential::X509 { certificates } = credential else {
            return Err(CredentialError::UnsupportedCredentialType(
                credential.credential_type(),
            ));
        };
        if certificates.is_empty() {
            return Err(CredentialError::EmptyChain);
        }
        certificates
            .iter()
            .enumerate()
            .map(|(i, c)| ParsedCert::parse(&c.cert_data, i))
            .collect()
    }

    fn is_anchor(&self, cert: &ParsedCert) -> bool {
        self.anchors.iter().any(|a| a.der == cert.der)
    }

    /// Verifies `cert`'s signature under `issuer`'s key.
    fn verify_signed_by(
        &self,
        cert: &ParsedCert,
        index: usize,
        issuer: &ParsedCert,
    ) -> Result<(), CredentialError> {
        let alg = cert.cert.signature_algorithm();
        let unsupported = || CredentialError::UnsupportedAlgorithm {
            index,
            algorithm: alg.oid.to_string(),
        };
        if cert.cert.tbs_certificate().signature() != alg {
            // RFC 5280 §4.1.1.2: both fields MUST be identical.
            return Err(CredentialError::CertificateParse {
                index,
                reason: "signature and tbsCertificate.signature algorithms differ".into(),
            });
        }
        if alg.parameters.is_some() {
            return Err(unsupported());
        }
        let scheme = signature_scheme_of(alg.oid).ok_or_else(unsupported)?;
        let (key_scheme, key) = spki_key(issuer.spki()).ok_or_else(unsupported)?;
        if key_scheme != scheme {
            return Err(CredentialError::UnsupportedAlgorithm {
                index,
                algorithm: format!("{} with a {key_scheme:?} issuer key", alg.oid),
            });
        }
        let cs = self
            .verifiers
            .iter()
            .find(|(s, _)| *s == scheme)
            .map(|(_, cs)| cs.as_ref())
            .ok_or(CredentialError::NoProviderForScheme { index, scheme })?;
        let signature = cert
            .cert
            .signature()
            .as_bytes()
            .ok_or(CredentialError::BadSignature { index })?;
        cs.verify(key, &cert.tbs, signature)
            .map_err(|_| CredentialError::BadSignature { index })
    }

    /// Checks that `issuer` may issue certificates with `intermediates_below` non-leaf
    /// certificates under it (RFC 5280 §4.2.1.3, §4.2.1.9).
    fn check_ca(
        issuer: &ParsedCert,
        issuer_index: usize,
        intermediates_below: usize,
    ) -> Result<(), CredentialError> {
        let bc = issuer.basic_constraints(issuer_index)?;
        let Some(bc) = bc.filter(|bc| bc.ca) else {
            return Err(CredentialError::NotACa {
                index: issuer_index,
                reason: "basicConstraints cA is not set",
            });
        };
        if let Some(ku) = issuer.key_usage(issuer_index)?
            && !ku.key_cert_sign()
        {
            return Err(CredentialError::NotACa {
                index: issuer_index,
                reason: "keyUsage lacks keyCertSign",
            });
        }
        if let Some(max) = bc.path_len_constraint
            && intermediates_below > usize::from(max)
        {
            return Err(CredentialError::PathLengthExceeded {
                index: issuer_index,
            });
        }
        Ok(())
    }

    fn check_extensions(cert: &ParsedCert, index: usize) -> Result<(), CredentialError> {
        for ext in cert
            .cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
        {
            if ext.critical && !KNOWN_CRITICAL.contains(&ext.extn_id) {
                return Err(CredentialError::UnknownCriticalExtension {
                    index,
                    oid: ext.extn_id.to_string(),
                });
            }
        }
        Ok(())
    }

    fn check_time(cert: &ParsedCert, index: usize, now: u64) -> Result<(), CredentialError> {
        let validity = cert.cert.tbs_certificate().validity();
        let not_before = validity.not_before.to_unix_duration().as_secs();
        let not_after = validity.not_after.to_unix_duration().as_secs();
        if now < not_before || now > not_after {
            return Err(CredentialError::NotValidAtTime {
                index,
                now,
                not_before,
                not_after,
            });
        }
        Ok(())
    }

    /// Path validation from the end-entity to a trust anchor (see the type's docs).
    fn validate_chain(&self, chain: &[ParsedCert], now: u64) -> Result<(), CredentialError> {
        for (index, cert) in chain.iter().enumerate() {
            Self::check_extensions(cert, index)?;
            Self::check_time(cert, index, now)?;
        }
        for (index, cert) in chain.iter().enumerate() {
            if self.is_anchor(cert) {
                return Ok(());
            }
            let issuer_name = cert.cert.tbs_certificate().issuer();
            if let Some(issuer) = chain.get(index + 1) {
                if issuer.cert.tbs_certificate().subject() != issuer_name {
                    return Err(CredentialError::IssuerMismatch { index });
                }
                Self::check_ca(issuer, index + 1, index)?;
                self.verify_signed_by(cert, index, issuer)?;
                continue;
            }
            // The last certificate of the chain: its issuer must be a trust anchor. A
            // self-issued last certificate that is not an anchor is a foreign root, even if
            // an anchor bears the same name (RFC 5280 §6.1: the path ends at a trust anchor).
            if cert.cert.tbs_certificate().subject() == issuer_name {
                return Err(CredentialError::UntrustedRoot);
            }
            let mut last_error = CredentialError::UntrustedRoot;
            for anchor in &self.anchors {
                if anchor.cert.tbs_certificate().subject() != issuer_name {
                    continue;
                }
                let outcome = Self::check_ca(anchor, ANCHOR_INDEX, index)
                    .and_then(|()| self.verify_signed_by(cert, index, anchor));
                match outcome {
                    Ok(()) => return Ok(()),
                    Err(e) => last_error = e,
                }
            }
            return Err(match last_error {
                // A same-named anchor whose key does not verify is still an untrusted root.
                CredentialError::BadSignature { .. } => CredentialError::UntrustedRoot,
                e => e,
            });
        }
        Err(CredentialError::UntrustedRoot)
    }

    fn leaf_identity(&self, leaf: &ParsedCert) -> Result<Vec<u8>, CredentialError> {
        let tbs = leaf.cert.tbs_certificate();
        let missing = CredentialError::IdentityMissing(self.identity.describe());
        let parse_err = |e: x509_cert::der::Error| CredentialError::CertificateParse {
            index: 0,
            reason: e.to_string(),
        };
        let san = || -> Result<Vec<GeneralName>, CredentialError> {
            Ok(tbs
                .get_extension::<SubjectAltName>()
                .map_err(parse_err)?
                .map(|(_, san)| san.0)
                .unwrap_or_default())
        };
        let found = match self.identity {
            X509Identity::SanUri => san()?.into_iter().find_map(|n| match n {
                GeneralName::UniformResourceIdentifier(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            }),
            X509Identity::SanDns => san()?.into_iter().find_map(|n| match n {
                GeneralName::DnsName(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            }),
            X509Identity::SanEmail => san()?.into_iter().find_map(|n| match n {
                GeneralName::Rfc822Name(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            }),
            X509Identity::CommonName => tbs
                .subject()
                .common_name()
                .map_err(parse_err)?
                .map(|cn| cn.value().as_bytes().to_vec()),
            X509Identity::SubjectDer => Some(tbs.subject().to_der().map_err(parse_err)?),
        };
        found.ok_or(missing)
    }
}

impl IdentityProvider for X509IdentityProvider {
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        let chain = Self::parse_chain(check.credential)?;
        let leaf = chain.first().ok_or(CredentialError::EmptyChain)?;
        let (scheme, key) =
            spki_key(leaf.spki()).ok_or_else(|| CredentialError::UnsupportedAlgorithm {
                index: 0,
                algorithm: leaf.spki().algorithm.oid.to_string(),
            })?;
        if scheme != check.signature_scheme {
            return Err(CredentialError::SignatureSchemeMismatch(
                check.signature_scheme,
            ));
        }
        if key != check.signature_key.as_ref() {
            return Err(CredentialError::KeyMismatch);
        }
        if let Some(ku) = leaf.key_usage(0)?
            && !ku.digital_signature()
        {
            return Err(CredentialError::KeyUsage);
        }
        self.validate_chain(&chain, check.now)?;
        // The identity must be extractable, or duplicate detection could not work.
        let identity = self.leaf_identity(leaf)?;
        if let Some(revoked) = &self.revoked {
            let revoked = revoked
                .read()
                .map_err(|_| CredentialError::Rejected("revocation list unavailable".into()))?;
            if revoked.contains(&identity) {
                return Err(CredentialError::Rejected(format!(
                    "{} is revoked (RFC 9420 §5.3.2)",
                    String::from_utf8_lossy(&identity)
                )));
            }
        }
        Ok(())
    }

    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        let chain = Self::parse_chain(credential)?;
        let leaf = chain.first().ok_or(CredentialError::EmptyChain)?;
        self.leaf_identity(leaf)
    }

    fn valid_successor(
        &self,
        predecessor: &Credential,
        successor: &Credential,
    ) -> Result<bool, CredentialError> {
        Ok(self.identity(predecessor)? == self.identity(successor)?)
    }

    fn supported_credential_types(&self) -> Vec<CredentialType> {
        vec![CredentialType::X509]
    }
}
