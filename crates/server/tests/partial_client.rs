//! The client library's partial mode (draft-ietf-mls-partial-02) against an in-process
//! devnet: a client registered with `ClientOptions::partial` joins from the AnnotatedWelcome
//! its DS inbox holds, follows commits from the annotated log, reads application messages
//! with the sender proofs the DS attaches (§7), sends messages full members read, and is
//! refused what needs the tree; and a mixed simulation of full and partial members through
//! many epochs in which every member agrees on the epoch authenticator and an exporter
//! secret after every epoch.

// Test code: a panic is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use conclave_client::{Client, ClientError, ClientOptions, HandshakeMode};
use conclave_server::devnet::{Devnet, DevnetOptions};

async fn devnet(dir: &Path) -> Devnet {
    Devnet::start(&DevnetOptions::new(&dir.join("devnet")))
        .await
        .unwrap()
}

/// Groups the DS follows (public handshakes), with member proofs as by default
/// (draft-mahy-mls-member-proof-00: the partial member proves its messages too).
fn full_options() -> ClientOptions {
    ClientOptions {
        handshakes: HandshakeMode::Public,
        member_proofs: true,
        ..ClientOptions::default()
    }
}

async fn user(devnet: &Devnet, dir: &Path, name: &str, partial: bool) -> Client {
    let token = devnet.issue_token(name).await.unwrap();
    Client::register(
        &dir.join(name),
        &devnet.info.ds_url,
        &devnet.info.as_url,
        name,
        &token,
        ClientOptions {
            partial,
            ..full_options()
        },
    )
    .await
    .unwrap()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn messages(client: &Client, group: &str) -> Vec<(String, String)> {
    client
        .history(group)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "message")
        .map(|e| (e.sender, e.body))
        .collect()
}

const LABEL: &str = "conclave partial test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_member_reads_sends_follows_commits_and_is_refused_what_needs_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice", false).await;
    let mut bob = user(&net, dir.path(), "bob", false).await;
    let mut carol = user(&net, dir.path(), "carol", true).await;
    assert!(carol.is_partial() && !alice.is_partial());

    alice.create_group("team").await.unwrap();
    alice
        .add_members("team", &names(&["bob", "carol"]))
        .await
        .unwrap();
    bob.sync().await.unwrap();
    assert_eq!(carol.sync().await.unwrap().joined, 1);
    // A partial member names a joined group as a full member does: the adder's name, from
    // the Welcome's GroupInfo.
    let g = "team";
    assert_eq!(
        carol.epoch_authenticator(g).unwrap(),
        alice.epoch_authenticator("team").unwrap()
    );

    // Messages both ways: carol authenticates alice's with the proof the DS attached, and
    // full members read carol's as any member's.
    alice.send("team", "hello carol").await.unwrap();
    bob.send("team", "hi all").await.unwrap();
    carol.sync().await.unwrap();
    carol.send(g, "hello from the partial side").await.unwrap();
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    let expected = vec![
        ("alice".to_owned(), "hello carol".to_owned()),
        ("bob".to_owned(), "hi all".to_owned()),
        ("carol".to_owned(), "hello from the partial side".to_owned()),
    ];
    assert_eq!(messages(&alice, "team"), expected);
    assert_eq!(messages(&carol, g), expected);

    // Further commits: alice adds dave, bob updates, alice removes dave; carol follows.
    let mut dave = user(&net, dir.path(), "dave", false).await;
    alice.add_members("team", &names(&["dave"])).await.unwrap();
    dave.sync().await.unwrap();
    bob.sync().await.unwrap();
    bob.update_keys("team").await.unwrap();
    alice.sync().await.unwrap();
    alice
        .remove_members("team", &names(&["dave"]))
        .await
        .unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    assert_eq!(carol.epoch(g).unwrap(), alice.epoch("team").unwrap());
    assert_eq!(
        carol.epoch_authenticator(g).unwrap(),
        alice.epoch_authenticator("team").unwrap()
    );
    assert_eq!(
        carol.export_secret(g, LABEL, b"", 32).unwrap(),
        bob.export_secret("team", LABEL, b"", 32).unwrap()
    );
    bob.send("team", "after the removal").await.unwrap();
    carol.sync().await.unwrap();
    assert_eq!(
        messages(&carol, g).last().unwrap(),
        &("bob".to_owned(), "after the removal".to_owned())
    );

    // What needs the tree is refused, with the reason and what to do.
    let refused = carol.add_members(g, &names(&["dave"])).await.unwrap_err();
    assert!(
        matches!(refused, ClientError::PartialMember { operation } if operation == "add members"),
        "{refused}"
    );
    let text = refused.to_string();
    assert!(text.contains("holds no ratchet tree"), "{text}");
    assert!(text.contains("draft-ietf-mls-partial-02"), "{text}");
    assert!(text.contains("register a full client"), "{text}");
    for result in [
        carol.remove_members(g, &names(&["bob"])).await.map(|_| ()),
        carol.update_keys(g).await.map(|_| ()),
        carol.create_group("mine").await.map(|_| ()),
    ] {
        assert!(matches!(result, Err(ClientError::PartialMember { .. })));
    }
    // Nothing was sent: the group is where it was, for everyone.
    alice.sync().await.unwrap();
    assert_eq!(carol.epoch(g).unwrap(), alice.epoch("team").unwrap());

    // Carol removed: she reads up to her removal and is marked removed.
    alice
        .remove_members("team", &names(&["carol"]))
        .await
        .unwrap();
    carol.sync().await.unwrap();
    assert_eq!(
        carol.group(g).unwrap().status,
        conclave_client::GroupStatus::Removed
    );
    net.shutdown().await.unwrap();
}

/// A partial member leaves: it posts a Remove proposal of its own leaf (it cannot commit),
/// the next full member to sync commits it, and everyone else moves on without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_member_leaves_and_a_full_member_commits_its_removal() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice", false).await;
    let mut bob = user(&net, dir.path(), "bob", false).await;
    let mut carol = user(&net, dir.path(), "carol", true).await;
    alice.create_group("team").await.unwrap();
    alice.set_topic("team", Some("launch plans")).await.unwrap();
    alice
        .add_members("team", &names(&["bob", "carol"]))
        .await
        .unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    // The partial member holds the group context, and with it the topic.
    assert_eq!(
        carol.topic("team").unwrap().as_deref(),
        Some("launch plans")
    );
    assert_eq!(
        carol.group("team").unwrap().topic.as_deref(),
        Some("launch plans")
    );
    let epoch = alice.epoch("team").unwrap();

    let how = carol.leave("team").await.unwrap();
    assert_eq!(how, conclave_client::LeaveMechanism::RemoveProposal);
    assert_eq!(
        carol.group("team").unwrap().status,
        conclave_client::GroupStatus::Left
    );
    // Alice syncs, sees the proposal and commits it; bob follows.
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    assert_eq!(alice.epoch("team").unwrap(), epoch + 1);
    for client in [&alice, &bob] {
        assert_eq!(
            client.group("team").unwrap().members,
            names(&["alice", "bob"])
        );
    }
    assert_eq!(
        bob.epoch_authenticator("team").unwrap(),
        alice.epoch_authenticator("team").unwrap()
    );
    // Carol's sync after her removal changes nothing; she is still marked as having left.
    carol.sync().await.unwrap();
    assert_ne!(
        carol.group("team").unwrap().status,
        conclave_client::GroupStatus::Active
    );
    net.shutdown().await.unwrap();
}

/// Mixed full and partial members through many epochs (adds, removes, updates, messages):
/// after every epoch every member has the same epoch, epoch authenticator and exporter
/// secret, and every message reaches every member in the group at the time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_and_partial_members_agree_after_every_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    // Full: f0 (creator), f1, f2; partial: p0, p1, p2.
    let mut clients = Vec::new();
    for (name, partial) in [
        ("f0", false),
        ("f1", false),
        ("f2", false),
        ("p0", true),
        ("p1", true),
        ("p2", true),
    ] {
        clients.push((name, user(&net, dir.path(), name, partial).await));
    }
    // Partial members name the group as full members do: the adder's name.
    let group = "sim";
    clients[0].1.create_group("sim").await.unwrap();
    let mut inside = vec![0usize];
    let mut sent = 0u32;

    // A fixed schedule (deterministic): (actor, action).
    // Actions: add k / remove k / update / message.
    enum Step {
        Add(usize),
        Remove(usize),
        Update,
        Message,
    }
    let schedule: Vec<(usize, Step)> = vec![
        (0, Step::Add(3)),
        (0, Step::Add(1)),
        (3, Step::Message),
        (1, Step::Add(4)),
        (1, Step::Update),
        (4, Step::Message),
        (0, Step::Add(2)),
        (2, Step::Add(5)),
        (0, Step::Message),
        (2, Step::Update),
        (5, Step::Message),
        (1, Step::Remove(3)),
        (0, Step::Update),
        (4, Step::Message),
        (2, Step::Remove(4)),
        (1, Step::Message),
        (0, Step::Add(3)),
        (1, Step::Update),
        (3, Step::Message),
        (2, Step::Remove(1)),
        (5, Step::Message),
        (0, Step::Update),
        (2, Step::Update),
        (0, Step::Add(1)),
        (1, Step::Message),
    ];
    let mut epochs = 0;
    let mut last_text = None;
    for (actor, step) in schedule {
        assert!(inside.contains(&actor));
        let name = clients[actor].0;
        clients[actor].1.sync().await.unwrap();
        match step {
            Step::Add(k) => {
                let who = clients[k].0.to_owned();
                clients[actor].1.add_members(group, &[who]).await.unwrap();
                inside.push(k);
                epochs += 1;
            }
            Step::Remove(k) => {
                let who = clients[k].0.to_owned();
                clients[actor]
                    .1
                    .remove_members(group, &[who])
                    .await
                    .unwrap();
                inside.retain(|i| *i != k);
                clients[k].1.sync().await.unwrap();
                epochs += 1;
            }
            Step::Update => {
                clients[actor].1.update_keys(group).await.unwrap();
                epochs += 1;
            }
            Step::Message => {
                sent += 1;
                let text = format!("{name} says {sent}");
                clients[actor].1.send(group, &text).await.unwrap();
                last_text = Some(text);
            }
        }
        // Everyone in the group catches up and agrees.
        let mut seen = None;
        for &i in &inside {
            let client = &mut clients[i].1;
            client.sync().await.unwrap();
            let state = (
                client.epoch(group).unwrap(),
                client.epoch_authenticator(group).unwrap(),
                client.export_secret(group, LABEL, b"sim", 32).unwrap(),
            );
            match &seen {
                None => seen = Some(state),
                Some(first) => assert_eq!(
                    first, &state,
                    "{} disagrees after a step by {name}",
                    clients[i].0
                ),
            }
        }
        // A message reached everyone in the group, as sent.
        if let Some(text) = last_text.take() {
            for &i in &inside {
                let client = &clients[i].1;
                assert!(
                    messages(client, group)
                        .iter()
                        .any(|(sender, body)| sender == name && *body == text),
                    "{} lacks {text:?}",
                    clients[i].0
                );
            }
        }
    }
    assert!(epochs >= 15, "{epochs} epochs");
    net.shutdown().await.unwrap();
}

/// The default handshake mode, semi-private (draft-mahy-mls-semiprivatemessage-07): the DS
/// reads and annotates the commits, and the partial member opens the SemiPrivateMessage
/// commits as a member; it follows an add, an update and a removal and reads messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_member_follows_a_semi_private_group() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice", false).await;
    let mut bob = user(&net, dir.path(), "bob", false).await;
    let mut carol = user(&net, dir.path(), "carol", true).await;
    let created = alice
        .create_group_with("team", HandshakeMode::SemiPrivate)
        .await
        .unwrap();
    assert_eq!(created.handshakes, HandshakeMode::SemiPrivate);
    alice.add_members("team", &names(&["carol"])).await.unwrap();
    carol.sync().await.unwrap();
    assert_eq!(
        carol.group("team").unwrap().handshakes,
        HandshakeMode::SemiPrivate
    );
    alice.add_members("team", &names(&["bob"])).await.unwrap();
    bob.sync().await.unwrap();
    bob.update_keys("team").await.unwrap();
    bob.send("team", "semi-private hello").await.unwrap();
    alice.sync().await.unwrap();
    alice
        .remove_members("team", &names(&["bob"]))
        .await
        .unwrap();
    carol.sync().await.unwrap();
    assert_eq!(
        carol.group("team").unwrap().status,
        conclave_client::GroupStatus::Active
    );
    assert_eq!(carol.epoch("team").unwrap(), alice.epoch("team").unwrap());
    assert_eq!(
        carol.epoch_authenticator("team").unwrap(),
        alice.epoch_authenticator("team").unwrap()
    );
    assert_eq!(
        messages(&carol, "team"),
        vec![("bob".to_owned(), "semi-private hello".to_owned())]
    );
    carol.send("team", "still here").await.unwrap();
    alice.sync().await.unwrap();
    assert_eq!(
        messages(&alice, "team").last().unwrap(),
        &("carol".to_owned(), "still here".to_owned())
    );
    net.shutdown().await.unwrap();
}
