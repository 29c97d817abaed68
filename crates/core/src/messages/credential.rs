//! Credentials (RFC 9420 §5.3): the identity a member's signature key is bound to, including
//! the multi-credentials of draft-ietf-mls-extensions-10 §6.5 (`multi`, `weak-multi`), whose
//! credential bindings carry credentials of their own.
//!
//! Decoding is hand-written rather than derived because a multi-credential nests
//! credentials: the decoder counts the nesting and refuses more than
//! [`MAX_CREDENTIAL_NESTING`] levels, so that no input can exhaust the stack.

use conclave_codec::{CodecError, Decode, Encode, Reader};
use conclave_crypto::CipherSuite;

use super::{CredentialType, SignaturePublicKey};
use crate::codepoints::{
    MULTI_CREDENTIAL, USERINFO_VC_CREDENTIAL, UserInfoVcCodepoint, WEAK_MULTI_CREDENTIAL,
};

/// How deeply multi-credentials may nest when decoding: a `multi` or `weak-multi`
/// credential is level 1, a multi-credential inside one of its bindings level 2, and so on.
/// draft-ietf-mls-extensions-10 §6.5 does not forbid nesting; the decoder bounds it so that
/// a crafted input cannot recurse without limit, and validation refuses any nesting
/// (see `crate::credential::MultiCredentialError::NestedMultiCredential`).
pub const MAX_CREDENTIAL_NESTING: usize = 8;

/// `Certificate` (RFC 9420 §5.3): one DER-encoded X.509 certificate, `opaque cert_data<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Certificate {
    /// The DER encoding.
    pub cert_data: Vec<u8>,
}

/// `Credential` (RFC 9420 §5.3): `CredentialType credential_type` then the select over it.
///
/// Only the credential types with a known body decode: RFC 9420's `basic` and `x509`, and
/// draft-ietf-mls-extensions-10's `multi` and `weak-multi` (§6.5, under the codepoints of
/// [`crate::codepoints`]). Decoding any other `credential_type` fails, since its encoding
/// cannot be known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode)]
#[repr(u16)]
pub enum Credential {
    /// `basic`: `opaque identity<V>`.
    Basic {
        /// The application-defined identity.
        identity: Vec<u8>,
    } = 0x0001,
    /// `x509`: `Certificate certificates<V>`, the end-entity certificate first.
    X509 {
        /// The certificate chain.
        certificates: Vec<Certificate>,
    } = 0x0002,
    /// `multi` (draft-ietf-mls-extensions-10 §6.5): every member must support every binding.
    Multi(MultiCredential) = MULTI_CREDENTIAL.0,
    /// `weak-multi` (draft-ietf-mls-extensions-10 §6.5): every member must support at least
    /// one binding.
    WeakMulti(WeakMultiCredential) = WEAK_MULTI_CREDENTIAL.0,
    /// `userinfo-vc` (draft-barnes-mls-addl-creds-01 §3.2): an OpenID Connect UserInfo
    /// Verifiable Credential, under MLSpp's codepoint [`USERINFO_VC_CREDENTIAL`].
    UserInfoVc(UserInfoVc) = USERINFO_VC_CREDENTIAL.0,
}

impl Credential {
    /// The credential's type.
    pub fn credential_type(&self) -> CredentialType {
        match self {
            Self::Basic { .. } => CredentialType::BASIC,
            Self::X509 { .. } => CredentialType::X509,
            Self::Multi(_) => MULTI_CREDENTIAL,
            Self::WeakMulti(_) => WEAK_MULTI_CREDENTIAL,
            Self::UserInfoVc(_) => USERINFO_VC_CREDENTIAL,
        }
    }

    /// The bindings of a `multi` or `weak-multi` credential; `None` for any other type.
    pub fn bindings(&self) -> Option<&[CredentialBinding]> {
        match self {
            Self::Multi(multi) => Some(&multi.bindings),
            Self::WeakMulti(weak) => Some(&weak.bindings),
            Self::Basic { .. } | Self::X509 { .. } | Self::UserInfoVc(_) => None,
        }
    }

    /// Whether this is a `multi` or `weak-multi` credential.
    pub fn is_multi(&self) -> bool {
        self.bindings().is_some()
    }

    /// Decodes a credential found at nesting level `depth` (0 for a LeafNode's own).
    fn decode_nested(reader: &mut Reader<'_>, depth: usize) -> Result<Self, CodecError> {
        let tag = u16::decode(reader)?;
        match CredentialType(tag) {
            CredentialType::BASIC => Ok(Self::Basic {
                identity: Decode::decode(reader)?,
            }),
            CredentialType::X509 => Ok(Self::X509 {
                certificates: Decode::decode(reader)?,
            }),
            MULTI_CREDENTIAL => Ok(Self::Multi(MultiCredential {
                bindings: decode_bindings(reader, depth.saturating_add(1))?,
            })),
            WEAK_MULTI_CREDENTIAL => Ok(Self::WeakMulti(WeakMultiCredential {
                bindings: decode_bindings(reader, depth.saturating_add(1))?,
            })),
            USERINFO_VC_CREDENTIAL => Ok(Self::UserInfoVc(Decode::decode(reader)?)),
            _ => Err(CodecError::InvalidValue {
                what: "Credential",
                value: u64::from(tag),
            }),
        }
    }
}

impl Decode for Credential {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        Self::decode_nested(reader, 0)
    }

    /// The type, then the body by its length prefix: every credential type we decode has
    /// one vector as its body (the tree's leaves are counted before they are decoded).
    fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
        let tag = u16::decode(reader)?;
        match CredentialType(tag) {
            CredentialType::BASIC
            | CredentialType::X509
            | MULTI_CREDENTIAL
            | WEAK_MULTI_CREDENTIAL
            | USERINFO_VC_CREDENTIAL => reader.read_opaque().map(drop),
            _ => Err(CodecError::InvalidValue {
                what: "Credential",
                value: u64::from(tag),
            }),
        }
    }
}

impl Credential {
    /// Encodes the credential with a `userinfo-vc` credential at the top level under
    /// `codepoint` (draft-barnes-mls-addl-creds-01 §6.1; see [`UserInfoVcCodepoint`]). A
    /// UserInfo VC inside a multi-credential's binding keeps [`USERINFO_VC_CREDENTIAL`]: the
    /// draft's value is the extensions draft's `multi`.
    pub fn to_bytes_with(&self, codepoint: UserInfoVcCodepoint) -> Result<Vec<u8>, CodecError> {
        let mut bytes = self.to_bytes()?;
        if let (Self::UserInfoVc(_), Some(tag)) = (self, bytes.get_mut(..2)) {
            tag.copy_from_slice(&codepoint.credential_type().0.to_be_bytes());
        }
        Ok(bytes)
    }

    /// Decodes a credential whose top-level `userinfo-vc` uses `codepoint`: under
    /// [`UserInfoVcCodepoint::AddlCreds`], 0x0003 is a UserInfo VC rather than `multi`
    /// (draft-barnes-mls-addl-creds-01 §6.1), and 0xFE00 is refused.
    pub fn from_bytes_with(
        bytes: &[u8],
        codepoint: UserInfoVcCodepoint,
    ) -> Result<Self, CodecError> {
        match (codepoint, bytes.split_first_chunk::<2>()) {
            (UserInfoVcCodepoint::AddlCreds, Some((tag, body))) => {
                match CredentialType(u16::from_be_bytes(*tag)) {
                    tag if tag == codepoint.credential_type() => {
                        Ok(Self::UserInfoVc(UserInfoVc::from_bytes(body)?))
                    }
                    USERINFO_VC_CREDENTIAL => Err(CodecError::InvalidValue {
                        what: "Credential",
                        value: u64::from(USERINFO_VC_CREDENTIAL.0),
                    }),
                    _ => Self::from_bytes(bytes),
                }
            }
            _ => Self::from_bytes(bytes),
        }
    }
}

/// `UserInfoVC` (draft-barnes-mls-addl-creds-01 §3.2): the signed JWT of a UserInfo
/// Verifiable Credential, UTF-8.
///
/// The draft writes `opaque jwt<0..2^32-1>`, TLS 1.3 notation; MLS vectors are `<V>`
/// (RFC 9420 §2.1.2) and MLSpp, the deployed implementation, writes the JWT as an MLS
/// vector, so the length is a varint here. Validation (`crate::credential`) refuses a JWT
/// longer than its cap before parsing it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct UserInfoVc {
    /// The compact-serialised JWS (`header.payload.signature`).
    pub jwt: Vec<u8>,
}

/// Reads `CredentialBinding bindings<V>` of a multi-credential at nesting level `depth`.
fn decode_bindings(
    reader: &mut Reader<'_>,
    depth: usize,
) -> Result<Vec<CredentialBinding>, CodecError> {
    if depth > MAX_CREDENTIAL_NESTING {
        return Err(CodecError::Malformed {
            what: "Credential",
            reason: "multi-credentials nested more deeply than MAX_CREDENTIAL_NESTING \
                     (draft-ietf-mls-extensions-10 §6.5)",
        });
    }
    reader
        .read_vector_body()?
        .read_until_end(|body| CredentialBinding::decode_nested(body, depth))
}

/// `CredentialBinding` (draft-ietf-mls-extensions-10 §6.5.1): a signed statement by the
/// holder of `credential` (whose signature key is `credential_key`, of `cipher_suite`'s
/// signature scheme) that the `signature_key` of the LeafNode carrying the multi-credential
/// belongs to the same holder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode)]
pub struct CredentialBinding {
    /// The suite whose signature scheme `credential_key` and `signature` use; it need not be
    /// the group's (§6.5.1).
    pub cipher_suite: CipherSuite,
    /// The bound credential.
    pub credential: Credential,
    /// The signature key `credential` certifies.
    pub credential_key: SignaturePublicKey,
    /// `SignWithLabel(credential_key, "CredentialBindingTBS", CredentialBindingTBS)`.
    pub signature: Vec<u8>,
}

impl CredentialBinding {
    fn decode_nested(reader: &mut Reader<'_>, depth: usize) -> Result<Self, CodecError> {
        Ok(Self {
            cipher_suite: Decode::decode(reader)?,
            credential: Credential::decode_nested(reader, depth)?,
            credential_key: Decode::decode(reader)?,
            signature: Decode::decode(reader)?,
        })
    }

    /// Encodes `CredentialBindingTBS` (draft-ietf-mls-extensions-10 §6.5.1): the binding's
    /// fields but the signature, then the `signature_key` of the LeafNode the binding is
    /// embedded in.
    pub fn to_be_signed(&self, signature_key: &SignaturePublicKey) -> Result<Vec<u8>, CodecError> {
        CredentialBindingTbs {
            cipher_suite: self.cipher_suite,
            credential: &self.credential,
            credential_key: &self.credential_key,
            signature_key,
        }
        .to_bytes()
    }
}

impl Decode for CredentialBinding {
    /// A binding read on its own counts as nested one level deep, as inside a
    /// multi-credential.
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        Self::decode_nested(reader, 1)
    }
}

/// `CredentialBindingTBS` (draft-ietf-mls-extensions-10 §6.5.1), encoded only to be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode)]
pub struct CredentialBindingTbs<'a> {
    /// The binding's `cipher_suite`.
    pub cipher_suite: CipherSuite,
    /// The binding's `credential`.
    pub credential: &'a Credential,
    /// The binding's `credential_key`.
    pub credential_key: &'a SignaturePublicKey,
    /// The `signature_key` of the LeafNode the multi-credential is embedded in.
    pub signature_key: &'a SignaturePublicKey,
}

/// `MultiCredential` (draft-ietf-mls-extensions-10 §6.5): `CredentialBinding bindings<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode)]
pub struct MultiCredential {
    /// The credential bindings.
    pub bindings: Vec<CredentialBinding>,
}

impl Decode for MultiCredential {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Self {
            bindings: decode_bindings(reader, 1)?,
        })
    }
}

/// `WeakMultiCredential` (draft-ietf-mls-extensions-10 §6.5): the same structure as
/// [`MultiCredential`], treated differently only when checking support by the members.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode)]
pub struct WeakMultiCredential {
    /// The credential bindings.
    pub bindings: Vec<CredentialBinding>,
}

impl Decode for WeakMultiCredential {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Self {
            bindings: decode_bindings(reader, 1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use conclave_codec::{varint_len, write_varint};
    use proptest::prelude::*;

    use super::*;

    fn basic(name: &str) -> Credential {
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        }
    }

    fn binding(suite: u16, credential: Credential) -> CredentialBinding {
        CredentialBinding {
            cipher_suite: CipherSuite(suite),
            credential,
            credential_key: SignaturePublicKey(suite.to_be_bytes().to_vec()),
            signature: vec![9, 9],
        }
    }

    /// `levels` multi-credentials nested one in the other's only binding, around a basic
    /// credential with an empty identity; built front to back so that even 100 000 levels
    /// take linear time.
    fn nested(levels: usize) -> Vec<u8> {
        let mut binding_sizes = Vec::with_capacity(levels);
        let mut credential_size = 3; // 0x0001, empty identity
        for _ in 0..levels {
            // cipher suite + credential + empty credential_key + empty signature
            let binding = 2 + credential_size + 1 + 1;
            binding_sizes.push(binding);
            credential_size = 2 + varint_len(binding) + binding;
        }
        let mut out = Vec::with_capacity(credential_size);
        for binding in binding_sizes.iter().rev() {
            out.extend_from_slice(&MULTI_CREDENTIAL.0.to_be_bytes());
            write_varint(&mut out, *binding).unwrap();
            out.extend_from_slice(&[0x00, 0x01]);
        }
        out.extend_from_slice(&[0x00, 0x01, 0x00]);
        for _ in 0..levels {
            out.extend_from_slice(&[0x00, 0x00]);
        }
        assert_eq!(out.len(), credential_size);
        out
    }

    #[test]
    fn multi_credentials_encode_as_type_then_bindings_and_decode_back() {
        let multi = Credential::Multi(MultiCredential {
            bindings: vec![binding(1, basic("a")), binding(2, basic("b"))],
        });
        let bytes = multi.to_bytes().unwrap();
        assert_eq!(bytes[..2], MULTI_CREDENTIAL.0.to_be_bytes());
        assert_eq!(Credential::from_bytes(&bytes).unwrap(), multi);
        assert_eq!(multi.credential_type(), MULTI_CREDENTIAL);
        let weak = Credential::WeakMulti(WeakMultiCredential {
            bindings: vec![binding(1, basic("a"))],
        });
        let bytes = weak.to_bytes().unwrap();
        assert_eq!(bytes[..2], WEAK_MULTI_CREDENTIAL.0.to_be_bytes());
        assert_eq!(Credential::from_bytes(&bytes).unwrap(), weak);
        assert_eq!(weak.bindings().map(<[_]>::len), Some(1));
        assert_eq!(basic("a").bindings(), None);
    }

    #[test]
    fn the_binding_tbs_is_the_binding_without_signature_then_the_leaf_key() {
        let b = binding(2, basic("a"));
        let leaf_key = SignaturePublicKey(vec![5, 6]);
        let mut expected = Vec::new();
        b.cipher_suite.encode(&mut expected).unwrap();
        b.credential.encode(&mut expected).unwrap();
        b.credential_key.encode(&mut expected).unwrap();
        leaf_key.encode(&mut expected).unwrap();
        assert_eq!(b.to_be_signed(&leaf_key).unwrap(), expected);
    }

    #[test]
    fn nesting_up_to_the_limit_decodes_and_one_more_level_is_refused() {
        let ok = Credential::from_bytes(&nested(MAX_CREDENTIAL_NESTING)).unwrap();
        let mut depth = 0;
        let mut current = &ok;
        while let Some([inner]) = current.bindings() {
            depth += 1;
            current = &inner.credential;
        }
        assert_eq!(depth, MAX_CREDENTIAL_NESTING);
        assert!(matches!(
            Credential::from_bytes(&nested(MAX_CREDENTIAL_NESTING + 1)),
            Err(CodecError::Malformed {
                what: "Credential",
                ..
            })
        ));
    }

    #[test]
    fn a_hundred_thousand_nested_multi_credentials_fail_cleanly_without_recursing() {
        let input = nested(100_000);
        assert!(input.len() > 800_000, "{}", input.len());
        assert!(matches!(
            Credential::from_bytes(&input),
            Err(CodecError::Malformed {
                what: "Credential",
                ..
            })
        ));
        // Inside a larger structure too: a LeafNode's credential, an ExternalSender.
        let mut sender = SignaturePublicKey(vec![1]).to_bytes().unwrap();
        sender.extend_from_slice(&input);
        assert!(super::super::ExternalSender::from_bytes(&sender).is_err());
        // A lone binding and a MultiCredential body are bounded the same way.
        let body = &input[2..];
        assert!(MultiCredential::from_bytes(body).is_err());
        assert!(WeakMultiCredential::from_bytes(body).is_err());
    }

    #[test]
    fn unknown_credential_types_are_refused() {
        assert_eq!(
            Credential::from_bytes(&[0x00, 0x05, 0x00]),
            Err(CodecError::InvalidValue {
                what: "Credential",
                value: 5
            })
        );
    }

    fn arb_credential() -> impl Strategy<Value = Credential> {
        let leaf = prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(|identity| Credential::Basic { identity });
        leaf.prop_recursive(3, 12, 3, |inner| {
            let bindings = prop::collection::vec(
                (
                    any::<u16>(),
                    inner,
                    prop::collection::vec(any::<u8>(), 0..4),
                    prop::collection::vec(any::<u8>(), 0..4),
                )
                    .prop_map(|(suite, credential, key, signature)| {
                        CredentialBinding {
                            cipher_suite: CipherSuite(suite),
                            credential,
                            credential_key: SignaturePublicKey(key),
                            signature,
                        }
                    }),
                0..3,
            );
            (any::<bool>(), bindings).prop_map(|(weak, bindings)| {
                if weak {
                    Credential::WeakMulti(WeakMultiCredential { bindings })
                } else {
                    Credential::Multi(MultiCredential { bindings })
                }
            })
        })
    }

    proptest! {
        #[test]
        fn credentials_round_trip(credential in arb_credential()) {
            let bytes = credential.to_bytes().unwrap();
            prop_assert_eq!(bytes.len(), credential.encoded_len());
            prop_assert_eq!(Credential::from_bytes(&bytes).unwrap(), credential);
        }
    }
}
