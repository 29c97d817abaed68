//! An attacker against a running `conclave-ds` process, on SQLite and on PostgreSQL, over
//! HTTP, with real MLS groups (conclave_core) and the DS client of `conclave-api`:
//!
//! - a *verified* group (its creator gave the DS the GroupInfo of its first epoch; its
//!   handshakes are PublicMessages; RFC 9750 §5, the "assisted" DS): the DS takes the member
//!   list from the tree it follows, so a roster forged in a commit bundle is ignored; an
//!   unsigned external commit, an external commit stolen from its joiner, a non-member's
//!   proposal and application message, and a member posting another member's commit or
//!   proposal are all refused; the honest members then follow the log, agree on the epoch
//!   authenticator and keep talking;
//! - a *private* group (handshakes as PrivateMessages; the DS reads none of them): a
//!   member's forged roster takes effect. The DS cannot protect the roster of a group whose
//!   handshakes it cannot read — access control is then the clients' alone (RFC 9750 §6.4)
//!   — which is the documented limit of private mode.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../ds/tests/common/mod.rs"]
mod common;

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::ApiError;
use conclave_api::delivery::{CreateGroupRequest, GroupView};
use conclave_api::ds_client::DsClient;
use conclave_codec::{Decode, Encode};
use conclave_core::group::{
    CommitOptions, CommitOutput, Group, JoinOptions, KeyPackageBundle, MemberParams, NewGroup,
    ProcessedMessage, SigningIdentity,
};
use conclave_core::messages::{
    Add, GroupInfo, KeyPackage, MlsMessage, MlsMessageBody, Proposal, WireFormat,
};
use conclave_crypto::{CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_testkit::process::Process;

use common::{
    SUITE, bad_signature, bundle_declaring, identity, postgres_url, public_params, rng, unique,
};

/// A DS process on `database`, killed when dropped.
fn start_ds(database: &str) -> Process {
    Process::start(
        env!("CARGO_BIN_EXE_conclave-ds"),
        &["--listen", "127.0.0.1:0", "--database", database],
        &[],
    )
}

fn now() -> u64 {
    conclave_service::now_seconds()
}

/// A registered, logged-in client of the DS.
struct Client {
    id: String,
    signer: SigningIdentity,
    ds: DsClient,
    /// Its bearer token, for the one request [`DsClient`] does not make (a verified group's
    /// creation).
    token: String,
}

async fn client(base: &str, name: &str, rng: &mut SeededRng) -> Client {
    let id = unique(name);
    let signer = identity(&id, rng);
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let ds = DsClient::new(base, &id, cs, signer.secret_key.clone()).unwrap();
    ds.register(
        signer.public_key.as_ref(),
        &signer.credential.to_bytes().unwrap(),
    )
    .await
    .unwrap();
    let token = ds.login().await.unwrap();
    Client {
        id,
        signer,
        ds,
        token,
    }
}

impl Client {
    /// Publishes a fresh KeyPackage made with `params`; returns its private half.
    async fn publish_key_package(
        &self,
        params: &MemberParams,
        rng: &mut SeededRng,
    ) -> KeyPackageBundle {
        let bundle = KeyPackageBundle::generate(params, SUITE, now(), rng).unwrap();
        let message = MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package.clone()));
        self.ds.publish_key_packages(&[message]).await.unwrap();
        bundle
    }

    /// Claims a KeyPackage of `owner`.
    async fn claim(&self, owner: &Client) -> KeyPackage {
        let claimed = self.ds.claim_key_package(&owner.id, SUITE).await.unwrap();
        let MlsMessageBody::KeyPackage(key_package) = claimed.message.body else {
            panic!("the claim did not answer a KeyPackage")
        };
        key_package
    }

    /// Joins by the one Welcome of our inbox.
    async fn join_by_welcome(&self, params: MemberParams, key_package: &KeyPackageBundle) -> Group {
        let welcomes = self.ds.welcomes(0).await.unwrap();
        assert_eq!(welcomes.len(), 1, "{} expects one Welcome", self.id);
        let bytes = STANDARD.decode(&welcomes[0].message).unwrap();
        let MlsMessageBody::Welcome(welcome) = MlsMessage::from_bytes(&bytes).unwrap().body else {
            panic!("not a Welcome")
        };
        Group::join(
            params,
            &welcome,
            key_package,
            &JoinOptions::default(),
            now(),
        )
        .unwrap()
    }

    /// The latest GroupInfo the DS serves for `gid`.
    async fn group_info(&self, gid: &[u8]) -> GroupInfo {
        let MlsMessageBody::GroupInfo(info) = self.ds.group_info(gid).await.unwrap().body else {
            panic!("not a GroupInfo")
        };
        info
    }
}

/// `POST /v1/groups` with the GroupInfo of the group's first epoch: a verified group, open
/// to external joins.
async fn create_verified_group(
    base: &str,
    creator: &Client,
    group: &Group,
) -> Result<GroupView, (u16, String)> {
    let info = group.group_info(true).unwrap().to_bytes().unwrap();
    let request = CreateGroupRequest {
        group_id: hex::encode(group.group_id()),
        epoch: 0,
        allow_external_join: true,
        group_info: Some(STANDARD.encode(info)),
        ratchet_tree: None,
        member_proof: None,
        tree_on_ds: false,
    };
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/groups"))
        .bearer_auth(&creator.token)
        .json(&request)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 201 {
        Ok(response.json().await.unwrap())
    } else {
        Err((status, response.text().await.unwrap()))
    }
}

/// Asserts a refusal with `status` whose message contains `needle`.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, ApiError>, status: u16, needle: &str) {
    match result {
        Err(ApiError::Refused {
            status: s, message, ..
        }) => {
            assert_eq!(s, status, "{message}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => panic!("expected a refusal with HTTP {status}, got {other:?}"),
    }
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// The group's epoch and sorted members as the DS shows them to `reader`.
async fn roster(reader: &Client, gid: &[u8]) -> (u64, Vec<String>) {
    let view = reader.ds.group(gid).await.unwrap();
    let mut members = view.members;
    members.sort();
    (view.epoch, members)
}

/// A client in a group: its MLS state and how far it read the log.
struct Member<'c> {
    client: &'c Client,
    group: Group,
    gid: Vec<u8>,
    /// The last log entry read (or skipped: the commit a joiner joined by).
    after: u64,
    /// The sequence numbers of our own messages, which we do not process again: our commits
    /// are merged when accepted, our proposals cached when sent, and our application
    /// messages' keys are deleted once used (RFC 9420 §9).
    own: HashSet<u64>,
}

impl<'c> Member<'c> {
    fn new(client: &'c Client, group: Group, after: u64) -> Self {
        Self {
            client,
            gid: group.group_id().to_vec(),
            group,
            after,
            own: HashSet::new(),
        }
    }

    /// Reads the log and processes every message of the others; returns the application
    /// messages' plaintexts.
    async fn sync(&mut self) -> Vec<Vec<u8>> {
        let mut texts = Vec::new();
        let entries = self
            .client
            .ds
            .read_log(&self.gid, self.after, 1000)
            .await
            .unwrap();
        for entry in entries {
            self.after = entry.seq;
            if self.own.contains(&entry.seq) {
                continue;
            }
            let bytes = STANDARD.decode(&entry.message).unwrap();
            let message = MlsMessage::from_bytes(&bytes).unwrap();
            let processed = self
                .group
                .process_message(&message, now())
                .unwrap_or_else(|e| {
                    panic!("{} cannot process seq {}: {e}", self.client.id, entry.seq)
                });
            if let ProcessedMessage::Application { data, .. } = processed {
                texts.push(data);
            }
        }
        texts
    }

    /// Posts our commit with a bundle declaring `declared`, and merges it once accepted.
    async fn post_commit(&mut self, output: &CommitOutput, declared: &[&str]) -> u64 {
        let accepted = self
            .client
            .ds
            .post_commit(&self.gid, &bundle_declaring(output, declared))
            .await
            .unwrap();
        self.group.merge_pending_commit().unwrap();
        assert_eq!(accepted.epoch, self.group.epoch());
        self.own.insert(accepted.seq);
        accepted.seq
    }

    /// Posts a message of ours (a proposal or an application message).
    async fn post(&mut self, message: &MlsMessage) {
        let accepted = self
            .client
            .ds
            .post_message(&self.gid, message)
            .await
            .unwrap();
        self.own.insert(accepted.seq);
    }

    /// Encrypts and posts `text`.
    async fn say(&mut self, text: &str, rng: &mut SeededRng) {
        let message = self
            .group
            .encrypt_application_message(text.as_bytes(), &[], rng)
            .unwrap();
        self.post(&message).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_group_on_sqlite_refuses_the_attacker_and_the_members_keep_talking() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("ds.db").display());
    verified_group_under_attack(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_group_on_postgres_refuses_the_attacker_and_the_members_keep_talking() {
    let Some(url) = postgres_url() else { return };
    verified_group_under_attack(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_group_on_sqlite_takes_a_members_forged_roster() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("ds.db").display());
    private_group_roster_forgery(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_group_on_postgres_takes_a_members_forged_roster() {
    let Some(url) = postgres_url() else { return };
    private_group_roster_forgery(&url).await;
}

/// Alice and Bob in a verified group; Mallory the attacker; Dave joins by an external
/// commit, Carol by a proposal of Bob's that Alice commits.
async fn verified_group_under_attack(database: &str) {
    let ds = start_ds(database);
    let mut rng = rng();
    let alice = client(&ds.base, "alice", &mut rng).await;
    let bob = client(&ds.base, "bob", &mut rng).await;
    let carol = client(&ds.base, "carol", &mut rng).await;
    let dave = client(&ds.base, "dave", &mut rng).await;
    let mallory = client(&ds.base, "mallory", &mut rng).await;
    let bob_kp = bob
        .publish_key_package(&public_params(&bob.signer), &mut rng)
        .await;
    let carol_kp = carol
        .publish_key_package(&public_params(&carol.signer), &mut rng)
        .await;

    // Alice's group, verified by the DS from its first GroupInfo. Mallory cannot register
    // the group first with Alice's GroupInfo: its only member is Alice.
    let gid = unique("attacked").into_bytes();
    let group = Group::create(
        public_params(&alice.signer),
        NewGroup::new(SUITE, gid.clone()),
        now(),
        &mut rng,
    )
    .unwrap();
    let (status, body) = create_verified_group(&ds.base, &mallory, &group)
        .await
        .unwrap_err();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("only member must be its creator"), "{body}");
    let view = create_verified_group(&ds.base, &alice, &group)
        .await
        .unwrap();
    assert!(view.verified);
    let mut a = Member::new(&alice, group, 0);

    // (a) Roster forgery: Alice adds Bob, but her bundle declares Mallory instead. The DS
    // takes the members from the tree it computed (Alice and Bob); Mallory, whom no leaf
    // names, can neither see the group nor read its log, and gets no Welcome.
    let add_bob = a
        .group
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: alice.claim(&bob).await,
                })],
                ..CommitOptions::default()
            },
            now(),
            &mut rng,
        )
        .unwrap();
    let seq = a.post_commit(&add_bob, &[&alice.id, &mallory.id]).await;
    assert_eq!(
        roster(&alice, &gid).await,
        (1, sorted(&[&alice.id, &bob.id]))
    );
    refused(mallory.ds.group(&gid).await, 404, "no such group");
    refused(
        mallory.ds.read_log(&gid, 0, 100).await,
        404,
        "no such group",
    );
    assert!(mallory.ds.welcomes(0).await.unwrap().is_empty());
    let group = bob
        .join_by_welcome(public_params(&bob.signer), &bob_kp)
        .await;
    let mut b = Member::new(&bob, group, seq);

    // (b) External commits. Mallory's own with a broken signature: refused. Dave's,
    // intercepted and posted by Mallory: refused, the new leaf is not hers. The members are
    // unchanged; then Dave's own post of it is accepted (the group does allow external
    // joins: the refusals were the attacks').
    let info = mallory.group_info(&gid).await;
    let (_, mallory_join) = Group::join_external(
        public_params(&mallory.signer),
        &info,
        &JoinOptions::default(),
        now(),
        &mut rng,
    )
    .unwrap();
    let mut unsigned = bundle_declaring(&mallory_join, &[&mallory.id]);
    unsigned.commit = bad_signature(&mallory_join.commit);
    refused(
        mallory.ds.post_commit(&gid, &unsigned).await,
        400,
        "commit is refused",
    );
    let (dave_group, dave_join) = Group::join_external(
        public_params(&dave.signer),
        &dave.group_info(&gid).await,
        &JoinOptions::default(),
        now(),
        &mut rng,
    )
    .unwrap();
    refused(
        mallory
            .ds
            .post_commit(&gid, &bundle_declaring(&dave_join, &[&mallory.id]))
            .await,
        403,
        "cannot post it",
    );
    assert_eq!(
        roster(&alice, &gid).await,
        (1, sorted(&[&alice.id, &bob.id]))
    );
    let mut d = Member::new(&dave, dave_group, 0);
    let seq = d
        .client
        .ds
        .post_commit(&gid, &bundle_declaring(&dave_join, &[&dave.id]))
        .await
        .unwrap()
        .seq;
    d.after = seq;
    assert_eq!(
        roster(&alice, &gid).await,
        (2, sorted(&[&alice.id, &bob.id, &dave.id]))
    );
    assert!(a.sync().await.is_empty());
    assert!(b.sync().await.is_empty());

    // (c) A non-member posting: Mallory replays Alice's application message (she cannot
    // make one) and Bob's proposal; both refused. Alice replaying Bob's proposal: refused,
    // it is signed by Bob's leaf. Bob's proposal with a broken signature: refused. Then
    // Alice and Bob post their own.
    let hello = a
        .group
        .encrypt_application_message(b"hello, verified group", &[], &mut rng)
        .unwrap();
    refused(
        mallory.ds.post_message(&gid, &hello).await,
        404,
        "no such group",
    );
    a.post(&hello).await;
    let add_carol = b
        .group
        .propose(
            Proposal::Add(Add {
                key_package: bob.claim(&carol).await,
            }),
            &[],
            &mut rng,
        )
        .unwrap();
    refused(
        mallory.ds.post_message(&gid, &add_carol).await,
        404,
        "no such group",
    );
    refused(
        alice.ds.post_message(&gid, &add_carol).await,
        403,
        "cannot post it",
    );
    refused(
        bob.ds.post_message(&gid, &bad_signature(&add_carol)).await,
        400,
        "proposal is refused",
    );
    b.post(&add_carol).await;

    // (d) Alice commits Bob's proposal; Bob and Dave posting her commit are refused (the
    // commit is signed by Alice's leaf), Mallory is no member. Alice's own post goes in.
    assert_eq!(a.sync().await, Vec::<Vec<u8>>::new());
    let add_carol_commit = a
        .group
        .commit(&CommitOptions::default(), now(), &mut rng)
        .unwrap();
    let declared = [
        alice.id.as_str(),
        bob.id.as_str(),
        carol.id.as_str(),
        dave.id.as_str(),
    ];
    for thief in [&bob, &dave] {
        refused(
            thief
                .ds
                .post_commit(&gid, &bundle_declaring(&add_carol_commit, &declared))
                .await,
            403,
            "cannot post it",
        );
    }
    refused(
        mallory
            .ds
            .post_commit(&gid, &bundle_declaring(&add_carol_commit, &[&mallory.id]))
            .await,
        404,
        "no such group",
    );
    assert_eq!(
        roster(&alice, &gid).await,
        (2, sorted(&[&alice.id, &bob.id, &dave.id]))
    );
    let seq = a.post_commit(&add_carol_commit, &declared).await;
    assert_eq!(roster(&alice, &gid).await, (3, sorted(&declared)));
    let group = carol
        .join_by_welcome(public_params(&carol.signer), &carol_kp)
        .await;
    let mut c = Member::new(&carol, group, seq);

    // The honest members follow the log: Bob and Dave read Alice's message, everyone
    // agrees on the epoch, then each one talks and every other one reads it.
    assert_eq!(b.sync().await, vec![b"hello, verified group".to_vec()]);
    assert_eq!(d.sync().await, vec![b"hello, verified group".to_vec()]);
    assert!(c.sync().await.is_empty());
    let mut members = [a, b, c, d];
    for m in &members {
        assert_eq!(m.group.epoch(), 3, "{}", m.client.id);
        assert_eq!(
            m.group.epoch_authenticator(),
            members[0].group.epoch_authenticator(),
            "{} disagrees on the epoch",
            m.client.id
        );
    }
    for speaker in 0..members.len() {
        let text = format!("{} speaking", members[speaker].client.id);
        members[speaker].say(&text, &mut rng).await;
        for (i, listener) in members.iter_mut().enumerate() {
            if i != speaker {
                assert_eq!(listener.sync().await, vec![text.clone().into_bytes()]);
            }
        }
    }

    // Nothing Mallory sent is in the log, and she still cannot read it.
    let log = alice.ds.read_log(&gid, 0, 1000).await.unwrap();
    assert_eq!(log.len(), 9);
    assert!(log.iter().all(|e| e.sender != mallory.id));
    refused(
        mallory.ds.read_log(&gid, 0, 100).await,
        404,
        "no such group",
    );
}

/// The unverified counterpart: a group whose handshakes are PrivateMessages, created
/// without a GroupInfo. The DS reads none of its handshakes, so it takes the member list
/// the committer writes.
async fn private_group_roster_forgery(database: &str) {
    let ds = start_ds(database);
    let mut rng = rng();
    let alice = client(&ds.base, "alice", &mut rng).await;
    let bob = client(&ds.base, "bob", &mut rng).await;
    let mallory = client(&ds.base, "mallory", &mut rng).await;
    let private = |signer: &SigningIdentity| {
        let mut params = public_params(signer);
        params.config.handshake_wire_format = WireFormat::PRIVATE_MESSAGE;
        params
    };
    let bob_kp = bob
        .publish_key_package(&private(&bob.signer), &mut rng)
        .await;

    let gid = unique("private").into_bytes();
    let group = Group::create(
        private(&alice.signer),
        NewGroup::new(SUITE, gid.clone()),
        now(),
        &mut rng,
    )
    .unwrap();
    alice.ds.create_group(&gid).await.unwrap();
    assert!(!alice.ds.group(&gid).await.unwrap().verified);
    let mut a = Member::new(&alice, group, 0);

    // Alice adds Bob but declares Mallory instead.
    let add_bob = a
        .group
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: alice.claim(&bob).await,
                })],
                ..CommitOptions::default()
            },
            now(),
            &mut rng,
        )
        .unwrap();
    assert!(matches!(
        add_bob.commit.body,
        MlsMessageBody::PrivateMessage(_)
    ));
    a.post_commit(&add_bob, &[&alice.id, &mallory.id]).await;

    // The documented limit of private mode: the forgery takes effect. The DS cannot read
    // the commit, so the member list is what Alice wrote — Bob, a member of the MLS group
    // (he joins by the Welcome and agrees with Alice on the epoch), is refused the log;
    // Mallory, whom no leaf names, reads it and posts to it. The clients alone enforce
    // membership here (RFC 9750 §6.4); a group that needs the DS to protect its roster
    // sends PublicMessage handshakes (the test above).
    assert_eq!(
        roster(&alice, &gid).await,
        (1, sorted(&[&alice.id, &mallory.id]))
    );
    let bob_group = bob.join_by_welcome(private(&bob.signer), &bob_kp).await;
    assert_eq!(
        bob_group.epoch_authenticator(),
        a.group.epoch_authenticator()
    );
    refused(bob.ds.read_log(&gid, 0, 100).await, 404, "no such group");
    assert_eq!(mallory.ds.read_log(&gid, 0, 100).await.unwrap().len(), 1);
    let hello = a
        .group
        .encrypt_application_message(b"hello, private group", &[], &mut rng)
        .unwrap();
    mallory.ds.post_message(&gid, &hello).await.unwrap();
    assert_eq!(mallory.ds.read_log(&gid, 0, 100).await.unwrap().len(), 2);
}
