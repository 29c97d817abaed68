//! Verified groups (RFC 9750 §5, the "assisted" DS): the DS follows the group's public state
//! from its PublicMessage handshakes and takes the member list from it. An attacker — a
//! member rewriting the member list, a member posting another's commit, an outsider with an
//! unsigned or forged external commit, a non-member posting — is refused, and the honest
//! members keep talking. Runs on SQLite and, when configured, PostgreSQL.

// Test code: a panic is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_codec::Encode;
use conclave_core::group::{
    CommitOptions, Group, GroupError, JoinOptions, KeyPackageBundle, NewGroup, ProcessedMessage,
    SigningIdentity,
};
use conclave_core::messages::{Add, MlsMessage, MlsMessageBody, Proposal, Remove, WireFormat};
use conclave_ds::Store;

use common::{
    Api, SUITE, account, bad_signature, bundle_declaring, engines, ok, public_params, rng, sorted,
    unique,
};

fn refused(r: &common::Reply, status: StatusCode, needle: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

async fn members(api: &Api, token: &str, gid: &str) -> (u64, Vec<String>) {
    let r = api.get(&format!("/v1/groups/{gid}"), Some(token)).await;
    ok(&r);
    let v = r.json();
    assert_eq!(v["verified"], true);
    let mut members: Vec<String> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    members.sort();
    (v["epoch"].as_u64().unwrap(), members)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roster_comes_from_verified_handshakes_and_attacks_are_refused() {
    for (store, _guard) in engines().await {
        attacks_on(store).await;
    }
}

async fn attacks_on(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let bob = account(&api, "bob", &mut rng).await;
    let eve = account(&api, "eve", &mut rng).await;
    let mallory = account(&api, "mallory", &mut rng).await;

    // Alice creates a verified group: the DS gets its first GroupInfo.
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut a = Group::create(
        public_params(&alice.signer),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let info = a.group_info(true).unwrap().to_bytes().unwrap();
    // Someone else cannot create it with Alice's GroupInfo.
    let r = api
        .post_json(
            "/v1/groups",
            Some(&eve.token),
            serde_json::json!({"group_id": gid, "allow_external_join": true,
                "group_info": STANDARD.encode(&info)}),
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "only member must be its creator");
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid, "allow_external_join": true,
                "group_info": STANDARD.encode(&info)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    assert_eq!(r.json()["verified"], true);

    // (1) Alice adds Bob, but her bundle declares Eve instead: the DS takes the tree's
    // members.
    let bob_kp =
        KeyPackageBundle::generate(&public_params(&bob.signer), SUITE, now, &mut rng).unwrap();
    let add_bob = a
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bob_kp.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    // A member cannot post another member's commit (Bob is not a member yet; Eve neither).
    refused(
        &api.post_bundle(&eve.token, &gid, &bundle_declaring(&add_bob, &[&eve.id]))
            .await,
        StatusCode::NOT_FOUND,
        "no such group",
    );
    // A commit whose signature does not verify changes nothing.
    let mut forged = bundle_declaring(&add_bob, &[&alice.id, &bob.id]);
    forged.commit = bad_signature(&add_bob.commit);
    refused(
        &api.post_bundle(&alice.token, &gid, &forged).await,
        StatusCode::BAD_REQUEST,
        "commit is refused",
    );
    assert_eq!(
        members(&api, &alice.token, &gid).await,
        (0, sorted(&[&alice.id]))
    );
    // The roster forgery itself: accepted as a commit, but the members are Alice and Bob.
    ok(&api
        .post_bundle(
            &alice.token,
            &gid,
            &bundle_declaring(&add_bob, &[&alice.id, &eve.id]),
        )
        .await);
    a.merge_pending_commit().unwrap();
    assert_eq!(
        members(&api, &alice.token, &gid).await,
        (1, sorted(&[&alice.id, &bob.id]))
    );
    refused(
        &api.get(
            &format!("/v1/groups/{gid}/messages?after=0"),
            Some(&eve.token),
        )
        .await,
        StatusCode::NOT_FOUND,
        "no such group",
    );
    let MlsMessageBody::Welcome(welcome) = &add_bob.welcome.as_ref().unwrap().body else {
        panic!("not a Welcome")
    };
    let mut b = Group::join(
        public_params(&bob.signer),
        welcome,
        &bob_kp,
        &JoinOptions::default(),
        now,
    )
    .unwrap();

    // (2) Bob posts a commit of Alice's: refused, it is not his leaf's.
    let alice_update = a.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    a.clear_pending_commit();
    refused(
        &api.post_bundle(
            &bob.token,
            &gid,
            &bundle_declaring(&alice_update, &[&bob.id]),
        )
        .await,
        StatusCode::FORBIDDEN,
        "cannot post it",
    );
    // A commit with a GroupInfo of another commit: refused.
    let one = b.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    b.clear_pending_commit();
    let other = b.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    b.clear_pending_commit();
    let mut mixed = bundle_declaring(&one, &[&alice.id, &bob.id]);
    mixed.group_info = other.group_info.clone();
    refused(
        &api.post_bundle(&bob.token, &gid, &mixed).await,
        StatusCode::BAD_REQUEST,
        "GroupInfo",
    );
    // A PrivateMessage handshake cannot be verified: refused.
    // (Bob's state again, from the same Welcome, sending PrivateMessage handshakes.)
    let mut private_params = public_params(&bob.signer);
    private_params.config.handshake_wire_format = WireFormat::PRIVATE_MESSAGE;
    let mut b_private = Group::join(
        private_params,
        welcome,
        &bob_kp,
        &JoinOptions::default(),
        now,
    )
    .unwrap();
    let proposal_private = b_private
        .propose(
            Proposal::Remove(Remove {
                removed: a.own_leaf(),
            }),
            &[],
            &mut rng,
        )
        .unwrap();
    refused(
        &api.post_message(&bob.token, &gid, &proposal_private).await,
        StatusCode::BAD_REQUEST,
        "PublicMessage",
    );

    // (3) Proposals: a non-member cannot post one, a member cannot post another's, a
    // forged one is refused; Bob's own goes in.
    let remove_alice = b
        .propose(
            Proposal::Remove(Remove {
                removed: a.own_leaf(),
            }),
            &[],
            &mut rng,
        )
        .unwrap();
    refused(
        &api.post_message(&mallory.token, &gid, &remove_alice).await,
        StatusCode::NOT_FOUND,
        "no such group",
    );
    refused(
        &api.post_message(&alice.token, &gid, &remove_alice).await,
        StatusCode::FORBIDDEN,
        "cannot post it",
    );
    refused(
        &api.post_message(&bob.token, &gid, &bad_signature(&remove_alice))
            .await,
        StatusCode::BAD_REQUEST,
        "proposal is refused",
    );

    // (4) An outsider's external commit: unsigned (a bad signature) refused; one whose new
    // leaf is Eve's, posted by Mallory, refused; Eve's own accepted.
    let r = api
        .get(&format!("/v1/groups/{gid}/group-info"), Some(&eve.token))
        .await;
    ok(&r);
    let info_message = <MlsMessage as conclave_codec::Decode>::from_bytes(&r.body).unwrap();
    let MlsMessageBody::GroupInfo(group_info) = &info_message.body else {
        panic!("not a GroupInfo")
    };
    let (mut e, eve_join) = Group::join_external(
        public_params(&eve.signer),
        group_info,
        &JoinOptions::default(),
        now,
        &mut rng,
    )
    .unwrap();
    let mut unsigned = bundle_declaring(&eve_join, &[&eve.id]);
    unsigned.commit = bad_signature(&eve_join.commit);
    refused(
        &api.post_bundle(&eve.token, &gid, &unsigned).await,
        StatusCode::BAD_REQUEST,
        "commit is refused",
    );
    refused(
        &api.post_bundle(
            &mallory.token,
            &gid,
            &bundle_declaring(&eve_join, &[&mallory.id]),
        )
        .await,
        StatusCode::FORBIDDEN,
        "cannot post it",
    );
    assert_eq!(
        members(&api, &alice.token, &gid).await,
        (1, sorted(&[&alice.id, &bob.id]))
    );
    // Eve's own join, declaring herself alone: the members are the three of them.
    ok(&api
        .post_bundle(&eve.token, &gid, &bundle_declaring(&eve_join, &[&eve.id]))
        .await);
    assert_eq!(
        members(&api, &alice.token, &gid).await,
        (2, sorted(&[&alice.id, &bob.id, &eve.id]))
    );

    // The honest members follow the log and agree.
    for (_, message) in api.read_log(&alice.token, &gid, 1).await {
        let processed = a.process_message(&message, now).unwrap();
        assert!(matches!(processed, ProcessedMessage::Commit(_)));
    }
    for (_, message) in api.read_log(&bob.token, &gid, 1).await {
        b.process_message(&message, now).unwrap();
    }
    assert_eq!(a.epoch_authenticator(), e.epoch_authenticator());
    assert_eq!(b.epoch_authenticator(), e.epoch_authenticator());
    // And keep committing: Eve removes Bob; the DS's roster follows.
    let remove_bob = e
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Remove(Remove {
                    removed: b.own_leaf(),
                })],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    ok(&api
        .post_bundle(
            &eve.token,
            &gid,
            &bundle_declaring(&remove_bob, &[&alice.id, &bob.id, &eve.id]),
        )
        .await);
    e.merge_pending_commit().unwrap();
    assert_eq!(
        members(&api, &alice.token, &gid).await,
        (3, sorted(&[&alice.id, &eve.id]))
    );
}

/// A member whose handshakes are SemiPrivateMessages (draft-mahy-mls-semiprivatemessage-07).
fn semi_private_params(signer: &SigningIdentity) -> conclave_core::group::MemberParams {
    let mut params = public_params(signer);
    params.config.handshake_wire_format =
        conclave_core::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT;
    params
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semi_private_group_is_verified_once_the_ds_opens_its_handshakes() {
    for (store, _guard) in engines().await {
        semi_private_on(store).await;
    }
}

async fn semi_private_on(store: Arc<dyn Store>) {
    use conclave_codec::Decode as _;
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let bob = account(&api, "bob", &mut rng).await;
    let eve = account(&api, "eve", &mut rng).await;
    let r = api
        .get(
            &format!("/v1/ds/external-receiver?cipher_suite={}", SUITE.0),
            None,
        )
        .await;
    ok(&r);
    let receiver = conclave_core::messages::ExternalReceiver::from_bytes(&r.body).unwrap();

    let gid_bytes = unique("semi").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut a = Group::create(
        semi_private_params(&alice.signer),
        // The group records its handshake mode (Conclave's component, as the client library
        // does): a member's handshake in another wire format is refused.
        NewGroup::new(SUITE, gid_bytes)
            .with_app_data(
                conclave_core::codepoints::CONCLAVE_HANDSHAKES_COMPONENT,
                conclave_codec::Encode::to_bytes(
                    &conclave_core::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
                )
                .unwrap(),
            )
            .with_external_receivers(vec![receiver])
            .unwrap(),
        now,
        &mut rng,
    )
    .unwrap();
    let info = a.group_info(true).unwrap().to_bytes().unwrap();
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid, "group_info": STANDARD.encode(&info)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());

    // Alice adds Bob in a semi-private commit whose bundle names Eve: the DS opens the
    // commit, verifies it and keeps Alice and Bob.
    let bob_kp =
        KeyPackageBundle::generate(&semi_private_params(&bob.signer), SUITE, now, &mut rng)
            .unwrap();
    let add_bob = a
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bob_kp.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    assert!(matches!(
        add_bob.commit.body,
        MlsMessageBody::SemiPrivateMessage(_)
    ));
    // A tampered ciphertext does not open: refused, nothing changes.
    let mut tampered = bundle_declaring(&add_bob, &[&alice.id, &bob.id]);
    if let MlsMessageBody::SemiPrivateMessage(m) = &mut tampered.commit.body {
        let last = m.ciphertext.len() - 1;
        m.ciphertext[last] ^= 1;
    }
    refused(
        &api.post_bundle(&alice.token, &gid, &tampered).await,
        StatusCode::BAD_REQUEST,
        "semi-private",
    );
    ok(&api
        .post_bundle(
            &alice.token,
            &gid,
            &bundle_declaring(&add_bob, &[&alice.id, &eve.id]),
        )
        .await);
    a.merge_pending_commit().unwrap();
    assert_eq!(
        members(&api, &alice.token, &gid).await,
        (1, sorted(&[&alice.id, &bob.id]))
    );
    let MlsMessageBody::Welcome(welcome) = &add_bob.welcome.as_ref().unwrap().body else {
        panic!("not a Welcome")
    };
    let mut b = Group::join(
        semi_private_params(&bob.signer),
        welcome,
        &bob_kp,
        &JoinOptions::default(),
        now,
    )
    .unwrap();
    // Bob cannot post Alice's semi-private commit.
    let alice_update = a.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    a.clear_pending_commit();
    refused(
        &api.post_bundle(
            &bob.token,
            &gid,
            &bundle_declaring(&alice_update, &[&bob.id]),
        )
        .await,
        StatusCode::FORBIDDEN,
        "cannot post it",
    );
    // Bob commits as a PublicMessage, which the DS could read, but the group's mode is
    // semi-private: the DS refuses it, and so does Alice (her state unchanged).
    b.set_handshake_wire_format(WireFormat::PUBLIC_MESSAGE)
        .unwrap();
    let public_commit = b.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    b.clear_pending_commit();
    b.set_handshake_wire_format(conclave_core::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT)
        .unwrap();
    assert!(matches!(
        public_commit.commit.body,
        MlsMessageBody::PublicMessage(_)
    ));
    refused(
        &api.post_bundle(
            &bob.token,
            &gid,
            &bundle_declaring(&public_commit, &[&bob.id]),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "handshake mode",
    );
    let before = a.to_bytes().unwrap();
    assert!(matches!(
        a.process_message(&public_commit.commit, now),
        Err(GroupError::HandshakeModeViolated { .. })
    ));
    assert_eq!(a.to_bytes().unwrap(), before);
    assert_eq!(
        members(&api, &alice.token, &gid).await,
        (1, sorted(&[&alice.id, &bob.id]))
    );
    // Bob's own semi-private commit removing Alice, declaring Eve: the DS keeps Bob alone.
    let remove_alice = b
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Remove(Remove {
                    removed: a.own_leaf(),
                })],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    ok(&api
        .post_bundle(
            &bob.token,
            &gid,
            &bundle_declaring(&remove_alice, &[&bob.id, &eve.id]),
        )
        .await);
    assert_eq!(
        members(&api, &bob.token, &gid).await,
        (2, sorted(&[&bob.id]))
    );
    // Alice learns of her removal from the log, as a member does.
    let log = api.read_log(&alice.token, &gid, 1).await;
    let Some((_, last)) = log.last() else {
        panic!("no log")
    };
    let ProcessedMessage::Commit(summary) = a.process_message(last, now).unwrap() else {
        panic!("not a commit")
    };
    assert_eq!(summary.removed, vec![a.own_leaf()]);
}

/// A verified group's first tree is refused before it is built when it has more nodes than
/// the DS's member limit allows (a run of blank nodes is one byte each on the wire and tens
/// of bytes each in memory), whether it comes as `ratchet_tree` or inside the GroupInfo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_tree_larger_than_the_member_limit_allows_is_refused_before_it_is_built() {
    let (store, _dir) = common::sqlite_store();
    let api = Api::with_config(
        store,
        conclave_ds::DsConfig {
            max_members: 8,
            ..conclave_ds::DsConfig::default()
        },
    );
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let gid_bytes = unique("big").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let a = Group::create(
        public_params(&alice.signer),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let info = a.group_info(true).unwrap().to_bytes().unwrap();
    // 17 nodes (16 blank, then Alice's leaf) against a limit of 8 members, 16 nodes.
    let mut nodes = vec![None; 16];
    nodes.push(a.tree().to_nodes().0[0].clone());
    let tree = conclave_core::messages::RatchetTreeNodes(nodes);
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid, "group_info": STANDARD.encode(&info),
                "ratchet_tree": STANDARD.encode(tree.to_bytes().unwrap())}),
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "17 nodes");
    // Within the limit, the same group is created.
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid, "group_info": STANDARD.encode(&info)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
}

/// A modified client: its identity provider names `liar`'s credential as `as_user`, so its
/// own room-policy check believes it holds that user's role.
struct Masquerade {
    liar: Vec<u8>,
    as_user: Vec<u8>,
}

impl conclave_core::credential::IdentityProvider for Masquerade {
    fn validate_credential(
        &self,
        check: &conclave_core::credential::CredentialCheck<'_>,
    ) -> Result<(), conclave_core::credential::CredentialError> {
        conclave_core::credential::BasicIdentityProvider.validate_credential(check)
    }

    fn identity(
        &self,
        credential: &conclave_core::messages::Credential,
    ) -> Result<Vec<u8>, conclave_core::credential::CredentialError> {
        let identity = conclave_core::credential::BasicIdentityProvider.identity(credential)?;
        Ok(if identity == self.liar {
            self.as_user.clone()
        } else {
            identity
        })
    }

    fn valid_successor(
        &self,
        predecessor: &conclave_core::messages::Credential,
        successor: &conclave_core::messages::Credential,
    ) -> Result<bool, conclave_core::credential::CredentialError> {
        conclave_core::credential::BasicIdentityProvider.valid_successor(predecessor, successor)
    }

    fn supported_credential_types(&self) -> Vec<conclave_core::messages::CredentialType> {
        vec![conclave_core::messages::CredentialType::BASIC]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ds_refuses_a_commit_the_room_policy_forbids() {
    for (store, _guard) in engines().await {
        policy_on(store).await;
    }
}

/// draft-ietf-mimi-room-policy-04 §8.1.1: in an admins-only room a member's Add is refused
/// by the DS (which follows the public handshakes) naming the missing capability, and the
/// group stays where it was; the admin's Add is accepted.
async fn policy_on(store: Arc<dyn Store>) {
    use conclave_core::group::policy::{MEMBER_ROLE, Preset};

    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let bob = account(&api, "bob", &mut rng).await;
    let carol = account(&api, "carol", &mut rng).await;

    let with_components = |signer: &SigningIdentity| {
        let mut params = public_params(signer);
        params.components = conclave_core::group::topic::components();
        params
    };
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let policy = Preset::AdminsOnly.policy_for(alice.id.as_bytes());
    let new_group = policy
        .entries()
        .unwrap()
        .into_iter()
        .fold(NewGroup::new(SUITE, gid_bytes), |g, (id, data)| {
            g.with_app_data(id, data)
        });
    let mut a = Group::create(with_components(&alice.signer), new_group, now, &mut rng).unwrap();
    let info = a.group_info(true).unwrap().to_bytes().unwrap();
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid, "allow_external_join": false,
                "group_info": STANDARD.encode(&info)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());

    // Alice (admin) adds Bob as a member: accepted.
    let bob_kp =
        KeyPackageBundle::generate(&with_components(&bob.signer), SUITE, now, &mut rng).unwrap();
    let mut list = a.room_policy().unwrap().unwrap().participants;
    list.set_role(bob.id.as_bytes(), MEMBER_ROLE);
    let add_bob = a
        .commit(
            &CommitOptions {
                proposals: vec![
                    Proposal::Add(Add {
                        key_package: bob_kp.key_package.clone(),
                    }),
                    a.participants_proposal(&list).unwrap(),
                ],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    ok(&api
        .post_bundle(
            &alice.token,
            &gid,
            &bundle_declaring(&add_bob, &[&alice.id, &bob.id]),
        )
        .await);
    a.merge_pending_commit().unwrap();
    let MlsMessageBody::Welcome(welcome) = &add_bob.welcome.as_ref().unwrap().body else {
        panic!("not a Welcome")
    };
    let b = Group::join(
        with_components(&bob.signer),
        welcome,
        &bob_kp,
        &JoinOptions::default(),
        now,
    )
    .unwrap();

    // Bob (member) adds Carol with a client that believes it is Alice: the DS refuses.
    let forger_env = conclave_core::group::GroupEnv {
        identity: Arc::new(Masquerade {
            liar: bob.id.as_bytes().to_vec(),
            as_user: alice.id.as_bytes().to_vec(),
        }),
        ..common::env()
    };
    let mut forger = Group::from_bytes(forger_env, &b.to_bytes().unwrap()).unwrap();
    forger.set_component_handler(conclave_core::group::topic::components());
    let carol_kp =
        KeyPackageBundle::generate(&with_components(&carol.signer), SUITE, now, &mut rng).unwrap();
    let mut list = b.room_policy().unwrap().unwrap().participants;
    list.set_role(carol.id.as_bytes(), MEMBER_ROLE);
    let forged = forger
        .commit(
            &CommitOptions {
                proposals: vec![
                    Proposal::Add(Add {
                        key_package: carol_kp.key_package.clone(),
                    }),
                    b.participants_proposal(&list).unwrap(),
                ],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    refused(
        &api.post_bundle(
            &bob.token,
            &gid,
            &bundle_declaring(&forged, &[&alice.id, &bob.id, &carol.id]),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "canAddParticipant",
    );
    assert_eq!(
        members(&api, &alice.token, &gid).await,
        (1, sorted(&[&alice.id, &bob.id]))
    );
    // The honest client refuses to build it at all.
    let mut honest = b;
    let error = honest
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: carol_kp.key_package,
                })],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap_err();
    assert!(error.to_string().contains("canAddParticipant"), "{error}");

    // §8.3: Alice takes canSendMessage from members. Bob's messages, even from a client
    // that believes it is Alice, are refused by the DS naming the capability; Alice's
    // are taken.
    let mut roles = Preset::AdminsOnly.roles();
    roles.roles[MEMBER_ROLE as usize]
        .role_capabilities
        .retain(|c| *c != conclave_core::group::policy::Capability::SEND_MESSAGE);
    let mute = a
        .commit(
            &CommitOptions {
                proposals: vec![a.roles_proposal(&roles).unwrap()],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    ok(&api
        .post_bundle(
            &alice.token,
            &gid,
            &bundle_declaring(&mute, &[&alice.id, &bob.id]),
        )
        .await);
    a.merge_pending_commit().unwrap();
    honest.process_message(&mute.commit, now).unwrap();
    let forger_env = conclave_core::group::GroupEnv {
        identity: Arc::new(Masquerade {
            liar: bob.id.as_bytes().to_vec(),
            as_user: alice.id.as_bytes().to_vec(),
        }),
        ..common::env()
    };
    let mut forger = Group::from_bytes(forger_env, &honest.to_bytes().unwrap()).unwrap();
    forger.set_component_handler(conclave_core::group::topic::components());
    let muted = forger
        .encrypt_application_message(b"still talking", b"", &mut rng)
        .unwrap();
    refused(
        &api.post_message(&bob.token, &gid, &muted).await,
        StatusCode::FORBIDDEN,
        "canSendMessage",
    );
    let allowed = a
        .encrypt_application_message(b"announcement", b"", &mut rng)
        .unwrap();
    ok(&api.post_message(&alice.token, &gid, &allowed).await);
}
