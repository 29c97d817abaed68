//! UserInfo VC credentials in groups (draft-barnes-mls-addl-creds-01 §3.3, inside the
//! multi-credentials of draft-ietf-mls-extensions-10 §6.5): a member whose leaf is an X.509 +
//! UserInfo VC multi-credential and a member with a plain VC form a group, each validating
//! the other's leaf; an expired VC in a KeyPackage is refused by the committer.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, SeededRng, SignatureAlgorithm};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use serde_json::{Map, Value, json};

use super::tests::X509AndVc;
use super::*;
use crate::codepoints::{MULTI_CREDENTIAL, USERINFO_VC_CREDENTIAL};
use crate::credential::tests::{Ca, TestKey, Y2024, leaf_params, x509};
use crate::credential::{
    BindingSigner, CredentialError, MultiCredentialProvider, X509IdentityProvider, bind_credentials,
};
use crate::group::{
    CommitOptions, Group, GroupEnv, GroupError, JoinOptions, KeyPackageBundle, LeafOptions,
    MemberParams, NewGroup, SigningIdentity,
};
use crate::messages::{
    Add, Capabilities, Credential, CredentialType, MlsMessageBody, MultiCredential, Proposal,
    ProtocolVersion,
};
use crate::validation::ValidationError;

const ED: CipherSuite = CipherSuite(1);
const P256: CipherSuite = CipherSuite(2);
const DAY: u64 = 86_400;
const NOW: u64 = Y2024 + 60;

fn userinfo(sub: &str) -> Map<String, Value> {
    let Value::Object(map) = json!({"sub": sub}) else {
        unreachable!()
    };
    map
}

struct World {
    issuer: UserInfoVcIssuer,
    ca: Ca,
    env: GroupEnv,
}

impl World {
    fn new() -> Self {
        let issuer_key = TestKey::new(1, 200);
        let issuer = UserInfoVcIssuer::new(
            "https://op.example",
            "k1",
            SignatureAlgorithm::Ed25519,
            issuer_key.secret.as_bytes(),
            &issuer_key.key().0,
        )
        .unwrap();
        let mut keys = IssuerKeys::new();
        keys.insert_jwks_json(issuer.issuer(), issuer.jwks().to_string().as_bytes())
            .unwrap();
        let ca = Ca::root("Corp Root", 2, 201);
        let provider = X509AndVc {
            x509: X509IdentityProvider::new([ca.der.as_slice()], &RustCryptoProvider).unwrap(),
            vc: UserInfoVcIdentityProvider::new(keys),
        };
        let env = GroupEnv {
            crypto: Arc::new(RustCryptoProvider),
            identity: Arc::new(MultiCredentialProvider::new(
                Arc::new(provider),
                &RustCryptoProvider,
            )),
            psks: Arc::new(RwLock::new(HashMap::new())),
        };
        Self { issuer, ca, env }
    }

    fn vc(&self, key: &TestKey, sub: &str, from: u64) -> Credential {
        self.issuer
            .issue(
                SignatureAlgorithm::Ed25519,
                &key.key().0,
                &userinfo(sub),
                from,
                from + DAY,
            )
            .unwrap()
    }

    fn member(&self, leaf: TestKey, credential: Credential) -> MemberParams {
        let signer = SigningIdentity {
            secret_key: leaf.secret.clone(),
            public_key: leaf.key(),
            credential,
        };
        MemberParams {
            leaf: LeafOptions {
                capabilities: Some(Capabilities {
                    versions: vec![ProtocolVersion::MLS10],
                    cipher_suites: vec![ED, P256],
                    extensions: Vec::new(),
                    proposals: Vec::new(),
                    credentials: vec![
                        CredentialType::X509,
                        USERINFO_VC_CREDENTIAL,
                        MULTI_CREDENTIAL,
                    ],
                }),
                ..LeafOptions::default()
            },
            ..MemberParams::new(self.env.clone(), signer)
        }
    }

    /// Alice: an Ed25519 leaf with a multi-credential binding her P-256 certificate and a
    /// UserInfo VC for another Ed25519 key.
    fn alice(&self) -> MemberParams {
        let leaf = TestKey::new(1, 210);
        let cert_key = TestKey::new(2, 211);
        let cert = x509(&[&self
            .ca
            .issue(&leaf_params("im:alice@corp.example", "Alice"), &cert_key)]);
        let vc_key = TestKey::new(1, 212);
        let vc = self.vc(&vc_key, "alice", Y2024);
        let publics = [cert_key.key(), vc_key.key()];
        let signers = [
            BindingSigner {
                cipher_suite: P256,
                credential: &cert,
                credential_key: &publics[0],
                secret_key: &cert_key.secret,
            },
            BindingSigner {
                cipher_suite: ED,
                credential: &vc,
                credential_key: &publics[1],
                secret_key: &vc_key.secret,
            },
        ];
        let bindings = bind_credentials(&RustCryptoProvider, &leaf.key(), &signers).unwrap();
        self.member(leaf, Credential::Multi(MultiCredential { bindings }))
    }

    /// Bob: a plain UserInfo VC for his leaf key, issued at `from`.
    fn bob(&self, from: u64) -> MemberParams {
        let leaf = TestKey::new(1, 220);
        let vc = self.vc(&leaf, "bob", from);
        self.member(leaf, vc)
    }
}

fn add(bundle: &KeyPackageBundle) -> CommitOptions {
    CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: bundle.key_package.clone(),
        })],
        ..CommitOptions::default()
    }
}

#[test]
fn an_x509_and_userinfo_vc_multi_credential_member_and_a_vc_member_form_a_group() {
    let world = World::new();
    let rng = &mut SeededRng::new(1);
    let alice = world.alice();
    let bob = world.bob(Y2024);
    let mut a = Group::create(alice, NewGroup::new(ED, b"vc".to_vec()), NOW, rng).unwrap();
    let bundle = KeyPackageBundle::generate(&bob, ED, NOW, rng).unwrap();
    let output = a.commit(&add(&bundle), NOW, rng).unwrap();
    a.merge_pending_commit().unwrap();
    let MlsMessageBody::Welcome(welcome) = &output.welcome.as_ref().unwrap().body else {
        panic!("not a Welcome")
    };
    // Bob validates Alice's leaf: the certificate binding and the VC binding.
    let mut b = Group::join(bob, welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
    assert_eq!(a.epoch_authenticator(), b.epoch_authenticator());
    let (_, alice_leaf) = b.members().next().unwrap();
    assert_eq!(alice_leaf.credential.credential_type(), MULTI_CREDENTIAL);
    let (_, bob_leaf) = a.members().nth(1).unwrap();
    assert_eq!(
        bob_leaf.credential.credential_type(),
        USERINFO_VC_CREDENTIAL
    );
    // Bob commits an UpdatePath; Alice validates his VC leaf again.
    let update = b.commit(&CommitOptions::default(), NOW, rng).unwrap();
    b.merge_pending_commit().unwrap();
    a.process_message(&update.commit, NOW).unwrap();
    assert_eq!(a.epoch_authenticator(), b.epoch_authenticator());
}

#[test]
fn a_key_package_with_an_expired_userinfo_vc_is_refused_by_the_committer() {
    let world = World::new();
    let rng = &mut SeededRng::new(2);
    let mut a = Group::create(world.alice(), NewGroup::new(ED, b"vc".to_vec()), NOW, rng).unwrap();
    // Issued two days before: expired one day before NOW.
    let bob = world.bob(Y2024 - 2 * DAY);
    let bundle = KeyPackageBundle::generate(&bob, ED, NOW, rng).unwrap();
    let before = a.to_bytes().unwrap();
    let error = a.commit(&add(&bundle), NOW, rng).unwrap_err();
    match error {
        GroupError::Validation(ValidationError::Credential(CredentialError::UserInfoVc(
            UserInfoVcError::Expired { .. },
        ))) => {}
        other => panic!("not an expired-VC refusal: {other:?}"),
    }
    assert_eq!(a.to_bytes().unwrap(), before);
}
