//! Scale-out with one Authentication Service (RFC 9750 §4-§5), end to end with processes:
//! PostgreSQL (a fresh database per test), two `conclave-ds` nodes on it, and `conclave`
//! clients on different nodes. Alice registers through node A, bob and carol through node B;
//! alice creates a group and adds bob, and each reads the other's message; then the AS
//! administrator revokes carol, whose next request is refused by both nodes, and alice
//! refuses to add her. In two deployments:
//!
//! - a `conclave-as` process, and DS nodes checking against it (`--as-url`): the revocation
//!   is in force on every node within the revocation TTL;
//! - DS nodes that all serve the AS on the shared database (`--with-as --as-database
//!   postgres://…`): one root, and the revocation is in force at once on every node.
//!
//! The services are this workspace's `conclave-ds` and `conclave-as` binaries, found next to
//! the `conclave` binary: `cargo test --workspace` (or `-p conclave-server` alongside) builds
//! them in the same run.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use conclave_testkit::postgres::TestDatabase;
use conclave_testkit::process::{Process, sibling_binary};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_conclave");

/// With `--as-url`, how old the DS nodes' copy of the revocation list may be, seconds.
const REVOCATION_TTL: f64 = 2.0;

/// A service binary of `conclave-server`, next to `conclave`.
fn service_binary(name: &str) -> Option<String> {
    sibling_binary(EXE, name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A `conclave-as` process; the DS nodes use `--as-url`.
    RemoteAs,
    /// Every DS node serves the AS on the shared database (`--with-as --as-database`).
    SharedAs,
}

/// The processes of a deployment (stopped when dropped; the services before the database).
struct Deployment {
    node_a: Process,
    node_b: Process,
    /// The AS each node's clients enrol with and read revocations from.
    as_for_a: String,
    as_for_b: String,
    admin_token_file: PathBuf,
    _as: Option<Process>,
    _database: TestDatabase,
}

fn ds_node(exe: &str, database: &str, extra: &[&str]) -> Process {
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--database",
        database,
        "--pool-size",
        "4",
    ];
    args.extend_from_slice(extra);
    Process::start(exe, &args, &[])
}

fn deploy(mode: Mode, server: &str, dir: &Path) -> Option<Deployment> {
    let ds = service_binary("conclave-ds")?;
    let as_exe = service_binary("conclave-as")?;
    // The DS and the AS share the database too: their tables do not collide.
    let database = TestDatabase::create(server, "conclave_multi_node");
    let admin = dir.join("as-admin-token");
    let admin_arg = admin.to_str().unwrap().to_owned();
    let ttl = REVOCATION_TTL.to_string();
    Some(match mode {
        Mode::RemoteAs => {
            let as_process = Process::start(
                &as_exe,
                &[
                    "--listen",
                    "127.0.0.1:0",
                    "--database",
                    database.url(),
                    "--admin-token-file",
                    &admin_arg,
                ],
                &[],
            );
            let remote = [
                "--as-url",
                as_process.base.as_str(),
                "--as-revocation-ttl",
                &ttl,
            ];
            let node_a = ds_node(&ds, database.url(), &remote);
            let node_b = ds_node(&ds, database.url(), &remote);
            Deployment {
                as_for_a: as_process.base.clone(),
                as_for_b: as_process.base.clone(),
                node_a,
                node_b,
                admin_token_file: admin,
                _as: Some(as_process),
                _database: database,
            }
        }
        Mode::SharedAs => {
            // The nodes share the admin token file (on several machines: copies of it).
            let with_as = [
                "--with-as",
                "--as-database",
                database.url(),
                "--as-admin-token-file",
                &admin_arg,
            ];
            let node_a = ds_node(&ds, database.url(), &with_as);
            let node_b = ds_node(&ds, database.url(), &with_as);
            Deployment {
                as_for_a: node_a.base.clone(),
                as_for_b: node_b.base.clone(),
                node_a,
                node_b,
                admin_token_file: admin,
                _as: None,
                _database: database,
            }
        }
    })
}

/// `conclave --json` with the profile `home` against `ds` and `as_url`, isolated from the
/// environment and from any devnet.
fn conclave(dir: &Path, home: &str, ds: &str, as_url: &str, args: &[&str]) -> Output {
    Command::new(EXE)
        .arg("--home")
        .arg(dir.join(home))
        .arg("--devnet")
        .arg(dir.join("no-devnet"))
        .args(["--ds", ds, "--as", as_url, "--json"])
        .args(args)
        .env_remove("CONCLAVE_DS")
        .env_remove("CONCLAVE_AS")
        .env_remove("CONCLAVE_HOME")
        .env_remove("CONCLAVE_AS_ADMIN_TOKEN_FILE")
        .output()
        .unwrap()
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A command that must succeed; its JSON lines.
fn ok(output: Output, what: &str) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    lines(&output)
}

/// A command that must fail; its error text (stderr).
fn refused(output: Output, what: &str) -> String {
    assert!(
        !output.status.success(),
        "{what} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn messages(lines: &[Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|v| v["event"] == "message")
        .map(|v| {
            (
                v["sender"].as_str().unwrap().to_owned(),
                v["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn scenario(mode: Mode) {
    let Some(server) = conclave_testkit::postgres::server_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some(net) = deploy(mode, &server, dir) else {
        return;
    };
    let admin = net.admin_token_file.to_str().unwrap();
    let (a, b) = (net.node_a.base.as_str(), net.node_b.base.as_str());
    let (as_a, as_b) = (net.as_for_a.as_str(), net.as_for_b.as_str());

    // Every node checks against the same root (in the shared mode, each serves it).
    let root = |base: &str| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { conclave_api::AsClient::new(base)?.root().await })
            .unwrap()
            .root_certificate
    };
    assert_eq!(root(as_a), root(as_b), "{mode:?}: two roots");

    // The administrator mints tokens (through node A's AS); each user registers with one,
    // alice on node A, bob and carol on node B.
    for (user, ds, as_url) in [("alice", a, as_a), ("bob", b, as_b), ("carol", b, as_b)] {
        let minted = ok(
            conclave(
                dir,
                "admin",
                a,
                as_a,
                &["token", user, "--admin-token-file", admin],
            ),
            "conclave token",
        );
        let token = minted.last().unwrap()["token"].as_str().unwrap().to_owned();
        let registered = ok(
            conclave(
                dir,
                user,
                ds,
                as_url,
                &["register", user, "--token", &token],
            ),
            "conclave register",
        );
        let last = registered.last().unwrap();
        assert_eq!(last["registered"], user, "{mode:?}");
        assert_eq!(last["ds"], ds, "{mode:?}");
        // A token is good once, whichever node it is presented to.
        let again = refused(
            conclave(
                dir,
                &format!("{user}-again"),
                a,
                as_a,
                &["register", user, "--token", &token],
            ),
            "a second registration with the same token",
        );
        assert!(again.contains("token"), "{mode:?}: {again}");
    }

    // Alice creates a group on node A and adds bob, who is on node B.
    ok(
        conclave(dir, "alice", a, as_a, &["group", "create", "friends"]),
        "group create",
    );
    let added = ok(
        conclave(dir, "alice", a, as_a, &["group", "add", "friends", "bob"]),
        "group add bob",
    );
    assert_eq!(added.last().unwrap()["added"], serde_json::json!(["bob"]));

    // Each reads the other's message, through their own node.
    ok(
        conclave(dir, "alice", a, as_a, &["send", "friends", "hello bob"]),
        "alice sends",
    );
    let bob_sync = ok(conclave(dir, "bob", b, as_b, &["sync"]), "bob syncs");
    assert_eq!(
        messages(&bob_sync),
        vec![("alice".to_owned(), "hello bob".to_owned())],
        "{mode:?}"
    );
    ok(
        conclave(dir, "bob", b, as_b, &["send", "friends", "hi alice"]),
        "bob sends",
    );
    let alice_sync = ok(conclave(dir, "alice", a, as_a, &["sync"]), "alice syncs");
    assert_eq!(
        messages(&alice_sync),
        vec![("bob".to_owned(), "hi alice".to_owned())],
        "{mode:?}"
    );

    // Carol works on both nodes until she is revoked.
    ok(conclave(dir, "carol", b, as_b, &["sync"]), "carol on B");
    ok(conclave(dir, "carol", a, as_a, &["sync"]), "carol on A");
    let revoked = ok(
        conclave(
            dir,
            "admin",
            a,
            as_a,
            &["revoke", "carol", "--admin-token-file", admin],
        ),
        "conclave revoke",
    );
    assert_eq!(revoked.last().unwrap()["revoked"], "carol");
    if mode == Mode::RemoteAs {
        // The documented bound: every node refuses her within the revocation TTL.
        std::thread::sleep(Duration::from_secs_f64(REVOCATION_TTL + 0.5));
    }
    for (node, ds, as_url) in [("B", b, as_b), ("A", a, as_a)] {
        let error = refused(
            conclave(dir, "carol", ds, as_url, &["sync"]),
            &format!("carol's sync on node {node} after her revocation"),
        );
        assert!(error.contains("revoked"), "{mode:?}, node {node}: {error}");
    }

    // A member refuses to add her: her credential is on the AS's revocation list.
    let error = refused(
        conclave(dir, "alice", a, as_a, &["group", "add", "friends", "carol"]),
        "adding the revoked carol",
    );
    assert!(
        error.contains("mls://carol is revoked"),
        "{mode:?}: {error}"
    );
    // The others carry on.
    ok(
        conclave(dir, "bob", b, as_b, &["send", "friends", "still here"]),
        "bob sends after the revocation",
    );
    let alice_sync = ok(conclave(dir, "alice", a, as_a, &["sync"]), "alice syncs");
    assert_eq!(
        messages(&alice_sync),
        vec![("bob".to_owned(), "still here".to_owned())],
        "{mode:?}"
    );
}

#[test]
fn clients_on_two_ds_nodes_checked_by_one_remote_as_talk_and_a_revocation_reaches_both() {
    scenario(Mode::RemoteAs);
}

#[test]
fn clients_on_two_ds_nodes_serving_one_shared_as_talk_and_a_revocation_reaches_both() {
    scenario(Mode::SharedAs);
}
