//! Tests of the members' support of multi-credentials (draft-ietf-mls-extensions-10
//! §6.5.2). Bindings need no valid signatures here: this half only reads types and suites.

use conclave_crypto::CipherSuite;

use super::*;
use crate::codepoints::{MULTI_CREDENTIAL, WEAK_MULTI_CREDENTIAL};
use crate::messages::{
    Capabilities, CredentialBinding, HpkePublicKey, LeafNodeSource, Lifetime, MultiCredential,
    ProtocolVersion, SignaturePublicKey, WeakMultiCredential,
};

const ED: CipherSuite = CipherSuite(1);
const P256: CipherSuite = CipherSuite(2);
const BASIC: CredentialType = CredentialType::BASIC;
const X509: CredentialType = CredentialType::X509;

fn leaf(credential: Credential, types: &[CredentialType], suites: &[CipherSuite]) -> LeafNode {
    LeafNode {
        encryption_key: HpkePublicKey(vec![1; 32]),
        signature_key: SignaturePublicKey(vec![2; 32]),
        credential,
        capabilities: Capabilities {
            versions: vec![ProtocolVersion::MLS10],
            cipher_suites: suites.to_vec(),
            extensions: Vec::new(),
            proposals: Vec::new(),
            credentials: types.to_vec(),
        },
        leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
            not_before: 0,
            not_after: 1,
        }),
        extensions: Vec::new(),
        signature: Vec::new(),
    }
}

fn binding(credential_type: CredentialType, suite: CipherSuite) -> CredentialBinding {
    CredentialBinding {
        cipher_suite: suite,
        credential: if credential_type == X509 {
            Credential::X509 {
                certificates: Vec::new(),
            }
        } else {
            Credential::Basic {
                identity: b"a".to_vec(),
            }
        },
        credential_key: SignaturePublicKey(vec![3]),
        signature: Vec::new(),
    }
}

fn multi(bindings: &[(CredentialType, CipherSuite)]) -> Credential {
    Credential::Multi(MultiCredential {
        bindings: bindings.iter().map(|(t, s)| binding(*t, *s)).collect(),
    })
}

fn weak(bindings: &[(CredentialType, CipherSuite)]) -> Credential {
    Credential::WeakMulti(WeakMultiCredential {
        bindings: bindings.iter().map(|(t, s)| binding(*t, *s)).collect(),
    })
}

fn basic() -> Credential {
    Credential::Basic {
        identity: b"m".to_vec(),
    }
}

/// Supports basic, X.509, multi and weak-multi in both suites.
fn everything(credential: Credential) -> LeafNode {
    leaf(
        credential,
        &[BASIC, X509, MULTI_CREDENTIAL, WEAK_MULTI_CREDENTIAL],
        &[ED, P256],
    )
}

fn check(leaf: &LeafNode, members: &[&LeafNode]) -> Result<(), ValidationError> {
    check_multi_credential_support(
        leaf,
        &MemberCredentialTypes::from_leaves(members.iter().copied()),
    )
}

#[test]
fn a_multi_credential_supported_by_every_member_passes() {
    let alice = everything(multi(&[(X509, P256), (BASIC, ED)]));
    let bob = everything(basic());
    let carol = leaf(basic(), &[BASIC, X509, MULTI_CREDENTIAL], &[P256, ED]);
    check(&alice, &[&bob, &carol]).unwrap();
    // And newcomers who support it may join a group where it is in use.
    check(&carol, &[&alice, &bob]).unwrap();
}

#[test]
fn a_member_without_multi_support_refuses_the_credential_type() {
    let alice = everything(multi(&[(BASIC, ED)]));
    let bob = leaf(basic(), &[BASIC], &[ED]);
    assert_eq!(
        check(&alice, &[&bob]),
        Err(ValidationError::MultiCredentialUnsupportedByMember(
            MultiCredentialGap::CredentialType(MULTI_CREDENTIAL)
        ))
    );
    // weak-multi needs weak-multi listed; multi does not stand in for it.
    let bob = leaf(basic(), &[BASIC, MULTI_CREDENTIAL], &[ED]);
    assert_eq!(
        check(&everything(weak(&[(BASIC, ED)])), &[&bob]),
        Err(ValidationError::MultiCredentialUnsupportedByMember(
            MultiCredentialGap::CredentialType(WEAK_MULTI_CREDENTIAL)
        ))
    );
}

#[test]
fn every_member_must_support_every_binding_suite_and_type_of_a_multi_credential() {
    let alice = everything(multi(&[(BASIC, ED), (BASIC, P256)]));
    let no_p256 = leaf(basic(), &[BASIC, MULTI_CREDENTIAL], &[ED]);
    assert_eq!(
        check(&alice, &[&no_p256]),
        Err(ValidationError::MultiCredentialUnsupportedByMember(
            MultiCredentialGap::Binding(BindingKind {
                credential_type: BASIC,
                cipher_suite: P256
            })
        ))
    );
    let no_x509 = leaf(basic(), &[BASIC, MULTI_CREDENTIAL], &[ED, P256]);
    let with_cert = everything(multi(&[(X509, ED)]));
    assert_eq!(
        check(&with_cert, &[&no_x509]),
        Err(ValidationError::MultiCredentialUnsupportedByMember(
            MultiCredentialGap::Binding(BindingKind {
                credential_type: X509,
                cipher_suite: ED
            })
        ))
    );
    // The leaf itself counts as a member.
    let own_gap = leaf(
        multi(&[(BASIC, ED), (BASIC, P256)]),
        &[BASIC, MULTI_CREDENTIAL],
        &[ED],
    );
    assert!(matches!(
        check(&own_gap, &[]),
        Err(ValidationError::MultiCredentialUnsupportedByMember(
            MultiCredentialGap::Binding(_)
        ))
    ));
}

#[test]
fn weak_multi_needs_one_supported_binding_per_member() {
    let alice = everything(weak(&[(X509, P256), (BASIC, ED)]));
    // Bob supports only the basic binding, Carol only the certificate one: both fine.
    let bob = leaf(basic(), &[BASIC, WEAK_MULTI_CREDENTIAL], &[ED]);
    let carol = leaf(basic(), &[BASIC, X509, WEAK_MULTI_CREDENTIAL], &[P256]);
    check(&alice, &[&bob, &carol]).unwrap();
    // Dave supports neither.
    let dave = leaf(basic(), &[BASIC, WEAK_MULTI_CREDENTIAL], &[P256]);
    let error = check(&alice, &[&bob, &dave]).unwrap_err();
    assert_eq!(
        error,
        ValidationError::MultiCredentialUnsupportedByMember(MultiCredentialGap::NoBinding)
    );
    assert!(
        error
            .to_string()
            .starts_with("draft-ietf-mls-extensions-10 §6.5.2"),
        "{error}"
    );
}

#[test]
fn a_newcomer_must_support_the_multi_credentials_in_use() {
    let alice = everything(multi(&[(BASIC, ED), (BASIC, P256)]));
    let weak_bob = everything(weak(&[(X509, P256), (BASIC, ED)]));
    let newcomer = leaf(
        basic(),
        &[BASIC, MULTI_CREDENTIAL, WEAK_MULTI_CREDENTIAL],
        &[ED],
    );
    assert_eq!(
        check(&newcomer, &[&alice]),
        Err(ValidationError::MultiCredentialInUseUnsupported(
            MultiCredentialGap::Binding(BindingKind {
                credential_type: BASIC,
                cipher_suite: P256
            })
        ))
    );
    // One binding of a weak-multi credential is enough.
    check(&newcomer, &[&weak_bob]).unwrap();
    let p256_only = leaf(basic(), &[BASIC, WEAK_MULTI_CREDENTIAL], &[P256]);
    assert_eq!(
        check(&p256_only, &[&weak_bob]),
        Err(ValidationError::MultiCredentialInUseUnsupported(
            MultiCredentialGap::NoBinding
        ))
    );
}

#[test]
fn the_member_summary_collects_distinct_support_and_requirements() {
    let a = everything(multi(&[(BASIC, P256), (BASIC, ED), (BASIC, ED)]));
    let b = everything(basic());
    let c = leaf(basic(), &[X509, BASIC, BASIC], &[ED]);
    let summary = MemberCredentialTypes::from_leaves([&a, &b, &c]);
    assert_eq!(summary.supports.len(), 2, "a and b support the same");
    assert!(summary.supports.contains(&CredentialSupport {
        credential_types: vec![BASIC, X509],
        cipher_suites: vec![ED],
    }));
    assert_eq!(
        summary.multi_credentials.into_iter().collect::<Vec<_>>(),
        vec![BindingRequirement {
            credential_type: MULTI_CREDENTIAL,
            weak: false,
            bindings: vec![
                BindingKind {
                    credential_type: BASIC,
                    cipher_suite: ED
                },
                BindingKind {
                    credential_type: BASIC,
                    cipher_suite: P256
                },
            ],
        }]
    );
}
