//! The `conclave` binary end to end: a `conclave devnet` process (DS + AS, SQLite) and
//! separate client processes with their own profiles.
//!
//! - the README scenario: alice, bob and carol register, talk, carol is removed and cannot
//!   read what follows;
//! - restart: a client killed (SIGKILL) in the middle of a long sync resumes without losing
//!   or repeating a message;
//! - `conclave demo` exits 0;
//! - leaving (SelfRemove or a Remove proposal) and the group topic (set, shown, cleared, in
//!   `group list` and `history`).

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_conclave");

/// A `conclave devnet` child process, killed on drop.
struct DevnetProcess {
    child: Child,
    dir: PathBuf,
}

impl Drop for DevnetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_devnet(dir: &Path) -> DevnetProcess {
    let data = dir.join("devnet");
    let mut child = Command::new(EXE)
        .args(["devnet", "--port", "0", "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("listening on "), "{first}");
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    DevnetProcess { child, dir: data }
}

fn conclave(devnet: &DevnetProcess, home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(EXE);
    command
        .arg("--home")
        .arg(home)
        .arg("--devnet")
        .arg(&devnet.dir)
        .arg("--json")
        .args(args)
        .env_remove("CONCLAVE_DS")
        .env_remove("CONCLAVE_AS")
        .env_remove("CONCLAVE_HOME");
    command
}

/// Runs a command that must succeed; returns its JSON lines.
fn ok(devnet: &DevnetProcess, home: &Path, args: &[&str]) -> Vec<Value> {
    let output = conclave(devnet, home, args).output().unwrap();
    assert!(
        output.status.success(),
        "conclave {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse(&output.stdout)
}

fn parse(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
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

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[test]
fn three_clients_run_the_readme_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    for user in ["alice", "bob", "carol"] {
        let out = ok(&devnet, &home(user), &["register", user]);
        assert_eq!(out.last().unwrap()["registered"], user);
    }
    ok(&devnet, &home("alice"), &["group", "create", "friends"]);
    let added = ok(
        &devnet,
        &home("alice"),
        &["group", "add", "friends", "bob", "carol"],
    );
    assert_eq!(
        added.last().unwrap()["added"],
        serde_json::json!(["bob", "carol"])
    );
    for user in ["bob", "carol"] {
        let out = ok(&devnet, &home(user), &["sync"]);
        assert!(
            out.iter()
                .any(|v| v["event"] == "joined" && v["group"] == "friends"),
            "{user}: {out:?}"
        );
    }
    ok(
        &devnet,
        &home("alice"),
        &["send", "friends", "hi from alice"],
    );
    ok(&devnet, &home("bob"), &["send", "friends", "hi from bob"]);
    ok(
        &devnet,
        &home("carol"),
        &["send", "friends", "hi from carol"],
    );
    let bob = messages(&ok(&devnet, &home("bob"), &["sync"]));
    assert_eq!(
        bob,
        vec![
            pair("alice", "hi from alice"),
            pair("carol", "hi from carol")
        ]
    );
    let carol = messages(&ok(&devnet, &home("carol"), &["sync"]));
    assert_eq!(
        carol,
        vec![pair("alice", "hi from alice"), pair("bob", "hi from bob")]
    );
    let alice = messages(&ok(&devnet, &home("alice"), &["sync"]));
    assert_eq!(
        alice,
        vec![pair("bob", "hi from bob"), pair("carol", "hi from carol")]
    );

    let removed = ok(
        &devnet,
        &home("alice"),
        &["group", "remove", "friends", "carol"],
    );
    assert_eq!(
        removed.last().unwrap()["removed"],
        serde_json::json!(["carol"])
    );
    ok(
        &devnet,
        &home("alice"),
        &["send", "friends", "carol cannot read this"],
    );
    let bob = ok(&devnet, &home("bob"), &["sync"]);
    assert_eq!(
        messages(&bob),
        vec![pair("alice", "carol cannot read this")]
    );
    assert!(bob.iter().any(
        |v| v["event"] == "membership" && v["text"].as_str().unwrap().contains("removed carol")
    ));

    let carol = ok(&devnet, &home("carol"), &["sync"]);
    assert!(messages(&carol).is_empty(), "{carol:?}");
    assert!(
        carol
            .iter()
            .any(|v| v["event"] == "removed" && v["group"] == "friends"),
        "{carol:?}"
    );
    // Sending is refused with a readable reason.
    let refused = conclave(&devnet, &home("carol"), &["send", "friends", "hello?"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("removed"), "{stderr}");

    // The stored ciphertext does not decrypt with carol's last epoch.
    let raw = ok(&devnet, &home("bob"), &["raw", "friends"]);
    let last = raw[0]["entries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let attempt = conclave(
        &devnet,
        &home("carol"),
        &["decrypt", "friends", last["message"].as_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(!attempt.status.success());
    let stderr = String::from_utf8_lossy(&attempt.stderr);
    assert!(stderr.contains("epoch"), "{stderr}");

    // Histories: bob has every message once, in order.
    let history = ok(&devnet, &home("bob"), &["history", "friends"]);
    let bodies: Vec<&str> = history[0]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message")
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        vec![
            "hi from alice",
            "hi from bob",
            "hi from carol",
            "carol cannot read this"
        ]
    );
    let groups = ok(&devnet, &home("carol"), &["group", "list"]);
    assert_eq!(groups[0][0]["status"], "removed");
}

#[test]
fn a_client_killed_mid_sync_resumes_without_loss_or_duplicates() {
    const COUNT: usize = 400;
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    ok(&devnet, &home("alice"), &["register", "alice"]);
    ok(&devnet, &home("bob"), &["register", "bob"]);
    ok(&devnet, &home("alice"), &["group", "create", "log"]);
    ok(&devnet, &home("alice"), &["group", "add", "log", "bob"]);
    ok(&devnet, &home("bob"), &["sync"]);

    let mut sender = conclave(&devnet, &home("alice"), &["send", "log", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = sender.stdin.take().unwrap();
        for i in 0..COUNT {
            writeln!(stdin, "message {i:04}").unwrap();
        }
    }
    let output = sender.wait_with_output().unwrap();
    assert!(output.status.success());

    // bob syncs the backlog; kill him (SIGKILL) once he has printed some messages.
    let mut kills = 0;
    for kill_after in [40usize, 150] {
        let mut child = conclave(&devnet, &home("bob"), &["sync"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < kill_after {
            match lines.next() {
                Some(Ok(line)) if line.contains("\"message\"") => seen += 1,
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        if seen == kill_after {
            child.kill().unwrap();
            kills += 1;
        }
        let status = child.wait().unwrap();
        if seen == kill_after {
            assert!(!status.success(), "the sync was killed, not finished");
        }
    }
    assert!(kills >= 1, "no sync was interrupted");

    ok(&devnet, &home("bob"), &["sync"]);
    let history = ok(&devnet, &home("bob"), &["history", "log"]);
    let bodies: Vec<String> = history[0]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message")
        .map(|e| e["body"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..COUNT).map(|i| format!("message {i:04}")).collect();
    assert_eq!(bodies.len(), COUNT, "no message lost or repeated");
    assert_eq!(bodies, expected, "in order");
    // bob's state is consistent with the group: he can still talk.
    ok(&devnet, &home("bob"), &["send", "log", "still here"]);
    let alice = ok(&devnet, &home("alice"), &["sync"]);
    assert_eq!(messages(&alice), vec![pair("bob", "still here")]);
}

#[test]
fn demo_exits_zero() {
    let output = Command::new(EXE).arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("all expectations held"), "{stdout}");
}

#[test]
fn watch_prints_messages_as_they_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    ok(&devnet, &home("alice"), &["register", "alice"]);
    ok(&devnet, &home("bob"), &["register", "bob"]);
    ok(&devnet, &home("alice"), &["group", "create", "live"]);
    ok(&devnet, &home("alice"), &["group", "add", "live", "bob"]);

    let mut watcher = conclave(&devnet, &home("bob"), &["watch"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = watcher.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    let wait_for = |pred: &dyn Fn(&Value) -> bool| -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let v = rx
                .recv_timeout(left)
                .expect("watch printed nothing in time");
            if pred(&v) {
                return v;
            }
        }
    };
    // The first sync joins the group from the Welcome.
    wait_for(&|v| v["event"] == "joined" && v["group"] == "live");
    // Then wake-ups over the WebSocket bring new messages without polling.
    ok(&devnet, &home("alice"), &["send", "live", "are you there?"]);
    let got = wait_for(&|v| v["event"] == "message");
    assert_eq!(got["text"], "are you there?");
    ok(&devnet, &home("alice"), &["group", "update", "live"]);
    ok(&devnet, &home("alice"), &["send", "live", "new epoch"]);
    let got = wait_for(&|v| v["event"] == "message");
    assert_eq!(got["text"], "new epoch");
    watcher.kill().unwrap();
    watcher.wait().unwrap();
}

/// Runs a command that must succeed without `--json`; returns its standard output.
fn human(devnet: &DevnetProcess, home: &Path, args: &[&str]) -> String {
    let output = Command::new(EXE)
        .arg("--home")
        .arg(home)
        .arg("--devnet")
        .arg(&devnet.dir)
        .args(args)
        .env_remove("CONCLAVE_DS")
        .env_remove("CONCLAVE_AS")
        .env_remove("CONCLAVE_HOME")
        .env_remove("CONCLAVE_NO_SELF_REMOVE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "conclave {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn members(devnet: &DevnetProcess, home: &Path, group: &str) -> Vec<String> {
    let groups = ok(devnet, home, &["group", "list"]);
    groups[0]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == group)
        .unwrap()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn group_leave_uses_self_remove_when_every_member_supports_it_and_a_remove_proposal_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    for user in ["alice", "bob", "carol"] {
        ok(&devnet, &home(user), &["register", user]);
    }
    // Dave's client does not support SelfRemove.
    ok(
        &devnet,
        &home("dave"),
        &["--no-self-remove", "register", "dave"],
    );

    // Every member of "friends" supports SelfRemove: Bob leaves with one.
    ok(&devnet, &home("alice"), &["group", "create", "friends"]);
    ok(
        &devnet,
        &home("alice"),
        &["group", "add", "friends", "bob", "carol"],
    );
    ok(&devnet, &home("bob"), &["sync"]);
    ok(&devnet, &home("carol"), &["sync"]);
    let said = human(&devnet, &home("bob"), &["group", "leave", "friends"]);
    assert_eq!(
        said.trim(),
        "left friends with a SelfRemove proposal; the next commit by any member removes you"
    );
    let groups = ok(&devnet, &home("bob"), &["group", "list"]);
    assert_eq!(groups[0][0]["status"], "left");
    // Carol's next sync commits it; Alice's sync applies the commit.
    let carol = ok(&devnet, &home("carol"), &["sync"]);
    assert!(
        carol
            .iter()
            .any(|v| v["event"] == "proposal" && v["text"] == "bob asked to leave"),
        "{carol:?}"
    );
    ok(&devnet, &home("alice"), &["sync"]);
    assert_eq!(
        members(&devnet, &home("alice"), "friends"),
        ["alice", "carol"]
    );
    assert_eq!(
        members(&devnet, &home("carol"), "friends"),
        ["alice", "carol"]
    );

    // Dave is in "club": Carol falls back to a Remove proposal.
    ok(&devnet, &home("alice"), &["group", "create", "club"]);
    ok(
        &devnet,
        &home("alice"),
        &["group", "add", "club", "carol", "dave"],
    );
    ok(&devnet, &home("carol"), &["sync"]);
    ok(&devnet, &home("dave"), &["--no-self-remove", "sync"]);
    let left = ok(&devnet, &home("carol"), &["group", "leave", "club"]);
    assert_eq!(left.last().unwrap()["mechanism"], "remove_proposal");
    ok(&devnet, &home("dave"), &["--no-self-remove", "sync"]);
    ok(&devnet, &home("alice"), &["sync"]);
    assert_eq!(members(&devnet, &home("alice"), "club"), ["alice", "dave"]);
    // Alice alone in a group leaves at once.
    ok(&devnet, &home("alice"), &["group", "create", "solo"]);
    let said = human(&devnet, &home("alice"), &["group", "leave", "solo"]);
    assert_eq!(said.trim(), "left solo; you were the last member");
}

/// Runs a command that must fail; returns its standard error.
fn fails(devnet: &DevnetProcess, home: &Path, args: &[&str]) -> String {
    let output = Command::new(EXE)
        .arg("--home")
        .arg(home)
        .arg("--devnet")
        .arg(&devnet.dir)
        .args(args)
        .env_remove("CONCLAVE_DS")
        .env_remove("CONCLAVE_AS")
        .env_remove("CONCLAVE_HOME")
        .env_remove("CONCLAVE_NO_SELF_REMOVE")
        .output()
        .unwrap();
    assert!(!output.status.success(), "conclave {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn group_topic_sets_shows_and_clears_the_topic_and_list_and_history_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    for user in ["alice", "bob"] {
        ok(&devnet, &home(user), &["register", user]);
    }
    ok(&devnet, &home("alice"), &["group", "create", "friends"]);
    ok(&devnet, &home("alice"), &["group", "add", "friends", "bob"]);
    ok(&devnet, &home("bob"), &["sync"]);

    let said = human(&devnet, &home("alice"), &["group", "topic", "friends"]);
    assert_eq!(said.trim(), "friends: no topic");
    let said = human(
        &devnet,
        &home("alice"),
        &["group", "topic", "friends", "Friday lunch"],
    );
    assert_eq!(
        said.trim(),
        "set the topic of friends to \"Friday lunch\" (epoch 2)"
    );

    // Bob sees it after a sync: in the group list, the topic command and the history.
    let synced = ok(&devnet, &home("bob"), &["sync"]);
    assert!(
        synced.iter().any(|v| v["event"] == "membership"
            && v["text"] == "alice set the topic to \"Friday lunch\""),
        "{synced:?}"
    );
    let list = human(&devnet, &home("bob"), &["group", "list"]);
    assert!(
        list.contains("members: alice, bob  topic: \"Friday lunch\"  (active)"),
        "{list}"
    );
    let shown = ok(&devnet, &home("bob"), &["group", "topic", "friends"]);
    assert_eq!(shown[0]["topic"], "Friday lunch");
    let history = human(&devnet, &home("bob"), &["history", "friends"]);
    assert!(
        history.lines().any(|l| l
            .trim_start()
            .ends_with("* alice set the topic to \"Friday lunch\"")),
        "{history}"
    );

    // Bob changes it, Alice sees it; then Alice clears it.
    human(
        &devnet,
        &home("bob"),
        &["group", "topic", "friends", "Saturday brunch"],
    );
    ok(&devnet, &home("alice"), &["sync"]);
    let said = human(&devnet, &home("alice"), &["group", "topic", "friends"]);
    assert_eq!(said.trim(), "friends: \"Saturday brunch\"");
    let said = human(
        &devnet,
        &home("alice"),
        &["group", "topic", "friends", "--clear"],
    );
    assert_eq!(said.trim(), "cleared the topic of friends (epoch 4)");
    ok(&devnet, &home("bob"), &["sync"]);
    let groups = ok(&devnet, &home("bob"), &["group", "list"]);
    assert_eq!(groups[0][0]["topic"], Value::Null);
    let history = human(&devnet, &home("bob"), &["history", "friends"]);
    assert!(
        history.contains("* bob set the topic to \"Saturday brunch\""),
        "{history}"
    );
    assert!(history.contains("* alice cleared the topic"), "{history}");

    // Refused locally, with what to do.
    let long = "x".repeat(300);
    let error = fails(
        &devnet,
        &home("alice"),
        &["group", "topic", "friends", &long],
    );
    assert!(
        error.contains(
            "invalid topic: a group topic is at most 256 bytes of UTF-8, and this one has 300 \
             bytes; shorten it"
        ),
        "{error}"
    );
    let error = fails(&devnet, &home("alice"), &["group", "topic", "friends", ""]);
    assert!(error.contains("use --clear to remove the topic"), "{error}");
    let said = human(&devnet, &home("alice"), &["group", "topic", "friends"]);
    assert_eq!(said.trim(), "friends: no topic");
}

/// `group create --handshakes`: the mode is recorded with the group, shown by `group list`,
/// followed by joiners; `semiprivate` is the default; an unknown mode is refused.
#[test]
fn group_create_takes_the_handshake_mode_and_joiners_follow_it() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    for user in ["alice", "bob", "carol"] {
        ok(&devnet, &home(user), &["register", user]);
    }
    let created = ok(&devnet, &home("alice"), &["group", "create", "default"]);
    assert_eq!(created[0]["handshakes"], "semiprivate");
    for mode in ["public", "semiprivate", "private"] {
        let name = format!("g-{mode}");
        let said = human(
            &devnet,
            &home("alice"),
            &["group", "create", &name, "--handshakes", mode],
        );
        assert!(said.contains(&format!("{mode} handshakes")), "{said}");
        ok(
            &devnet,
            &home("alice"),
            &["group", "add", &name, "bob", "carol"],
        );
    }
    for user in ["bob", "carol"] {
        ok(&devnet, &home(user), &["sync"]);
    }
    // Three users chat in the semi-private group; bob and carol commit too.
    ok(&devnet, &home("bob"), &["group", "update", "g-semiprivate"]);
    ok(
        &devnet,
        &home("carol"),
        &["group", "update", "g-semiprivate"],
    );
    for user in ["alice", "bob", "carol"] {
        let text = format!("hi from {user}");
        ok(&devnet, &home(user), &["send", "g-semiprivate", &text]);
    }
    let expected: Vec<_> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| pair(u, &format!("hi from {u}")))
        .collect();
    for user in ["alice", "bob", "carol"] {
        ok(&devnet, &home(user), &["sync"]);
        let history = ok(&devnet, &home(user), &["history", "g-semiprivate"]);
        let read: Vec<_> = history[0]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "message")
            .map(|e| {
                (
                    e["sender"].as_str().unwrap().to_owned(),
                    e["body"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(read, expected, "{user}");
    }

    let groups = ok(&devnet, &home("carol"), &["group", "list"]);
    let modes: Vec<(String, String)> = groups[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_owned(),
                g["handshakes"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for mode in ["public", "semiprivate", "private"] {
        assert!(
            modes.contains(&(format!("g-{mode}"), mode.to_owned())),
            "{modes:?}"
        );
    }
    let list = human(&devnet, &home("carol"), &["group", "list"]);
    assert!(list.contains("(active)  handshakes: private"), "{list}");
    // Member proofs (draft-mahy-mls-member-proof-00) are on by default, joiners included,
    // and off for a group created with `--no-member-proofs`.
    assert!(
        groups[0]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["member_proofs"] == true),
        "{groups:?}"
    );
    assert!(list.contains("member proofs: on"), "{list}");
    ok(
        &devnet,
        &home("alice"),
        &["--no-member-proofs", "group", "create", "unproven"],
    );
    ok(
        &devnet,
        &home("alice"),
        &["group", "add", "unproven", "bob"],
    );
    ok(&devnet, &home("bob"), &["sync"]);
    ok(
        &devnet,
        &home("bob"),
        &["send", "unproven", "no proofs here"],
    );
    let listed = ok(&devnet, &home("bob"), &["group", "list"]);
    let unproven = listed[0]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "unproven")
        .unwrap()
        .clone();
    assert_eq!(unproven["member_proofs"], false, "{unproven}");

    let refused = fails(
        &devnet,
        &home("alice"),
        &["group", "create", "bad", "--handshakes", "secret"],
    );
    assert!(refused.contains("semiprivate"), "{refused}");
}

#[test]
fn in_an_admins_only_group_a_member_s_add_is_refused_naming_the_capability() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    for user in ["alice", "bob", "carol", "dave"] {
        ok(&devnet, &home(user), &["register", user]);
    }
    let said = human(
        &devnet,
        &home("alice"),
        &["group", "create", "club", "--policy", "admins-only"],
    );
    assert!(said.contains("admins-only roles"), "{said}");
    ok(&devnet, &home("alice"), &["group", "add", "club", "bob"]);
    ok(&devnet, &home("bob"), &["sync"]);

    // Bob is a member: his add is refused before anything is sent, naming the capability.
    let error = fails(&devnet, &home("bob"), &["group", "add", "club", "carol"]);
    assert!(error.contains("canAddParticipant"), "{error}");
    assert!(error.contains("bob (role member)"), "{error}");
    assert!(
        error.contains("hint: your role in the group does not allow this"),
        "{error}"
    );
    assert_eq!(members(&devnet, &home("alice"), "club"), ["alice", "bob"]);
    // Nor may he make himself admin.
    let error = fails(
        &devnet,
        &home("bob"),
        &["group", "role", "club", "bob", "admin"],
    );
    assert!(error.contains("canChangeOwnRole"), "{error}");

    // Alice makes Bob admin; now Bob may add Carol, and everyone's history says who did it.
    let said = human(
        &devnet,
        &home("alice"),
        &["group", "role", "club", "bob", "admin"],
    );
    assert!(said.contains("bob is now admin"), "{said}");
    ok(&devnet, &home("bob"), &["sync"]);
    ok(&devnet, &home("bob"), &["group", "add", "club", "carol"]);
    ok(&devnet, &home("carol"), &["sync"]);
    ok(&devnet, &home("alice"), &["sync"]);
    let roles = ok(&devnet, &home("carol"), &["group", "role", "club"]);
    assert_eq!(
        roles[0]["roles"],
        serde_json::json!({"alice": "admin", "bob": "admin", "carol": "member"})
    );
    let error = fails(&devnet, &home("carol"), &["group", "add", "club", "dave"]);
    assert!(error.contains("canAddParticipant"), "{error}");
    let history = ok(&devnet, &home("alice"), &["history", "club"]);
    let events: Vec<String> = history[0]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "event")
        .map(|e| e["body"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        events.iter().any(|e| e == "alice made bob admin"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e == "bob added carol; bob made carol member"),
        "{events:?}"
    );

    // Bob bans Carol: she is removed, and cannot be added back by a plain add.
    ok(
        &devnet,
        &home("bob"),
        &["group", "role", "club", "carol", "banned"],
    );
    ok(&devnet, &home("alice"), &["sync"]);
    assert_eq!(members(&devnet, &home("alice"), "club"), ["alice", "bob"]);
    let error = fails(&devnet, &home("alice"), &["group", "add", "club", "carol"]);
    assert!(error.contains("banned"), "{error}");
}

/// `register --credential userinfo-vc` (draft-barnes-mls-addl-creds): a VC holder and a
/// certificate holder share a group through the CLI; the registration says which kind.
#[test]
fn register_takes_the_credential_kind_and_both_kinds_share_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    let registered = ok(
        &devnet,
        &home("alice"),
        &["register", "alice", "--credential", "userinfo-vc"],
    );
    assert_eq!(registered[0]["credential"], "UserInfo VC");
    let registered = ok(&devnet, &home("bob"), &["register", "bob"]);
    assert_eq!(registered[0]["credential"], "X.509 certificate");
    ok(&devnet, &home("alice"), &["group", "create", "mixed"]);
    ok(&devnet, &home("alice"), &["group", "add", "mixed", "bob"]);
    ok(&devnet, &home("bob"), &["sync"]);
    ok(&devnet, &home("bob"), &["send", "mixed", "hello alice"]);
    let read = ok(&devnet, &home("alice"), &["sync"]);
    assert!(
        messages(&read).contains(&pair("bob", "hello alice")),
        "{read:?}"
    );
    assert_eq!(members(&devnet, &home("bob"), "mixed"), ["alice", "bob"]);
    let refused = fails(
        &devnet,
        &home("carol"),
        &["register", "carol", "--credential", "pgp"],
    );
    assert!(refused.contains("userinfo-vc"), "{refused}");
}

/// `--policy announcements` (draft-ietf-mimi-room-policy-04 §8.3): the admin posts, members
/// read; a member's `send` is refused naming `canSendMessage`, and once the admin makes the
/// member an admin, it may post.
#[test]
fn in_an_announcements_group_only_admins_post() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    for user in ["alice", "bob"] {
        ok(&devnet, &home(user), &["register", user]);
    }
    ok(
        &devnet,
        &home("alice"),
        &["group", "create", "news", "--policy", "announcements"],
    );
    ok(&devnet, &home("alice"), &["group", "add", "news", "bob"]);
    ok(&devnet, &home("bob"), &["sync"]);
    ok(
        &devnet,
        &home("alice"),
        &["send", "news", "release on friday"],
    );
    let read = ok(&devnet, &home("bob"), &["sync"]);
    assert!(
        messages(&read).contains(&pair("alice", "release on friday")),
        "{read:?}"
    );
    let error = fails(&devnet, &home("bob"), &["send", "news", "me too"]);
    assert!(error.contains("canSendMessage"), "{error}");
    assert!(error.contains("§8.3"), "{error}");

    ok(
        &devnet,
        &home("alice"),
        &["group", "role", "news", "bob", "admin"],
    );
    ok(&devnet, &home("bob"), &["sync"]);
    ok(&devnet, &home("bob"), &["send", "news", "now I may"]);
    let read = ok(&devnet, &home("alice"), &["sync"]);
    assert!(
        messages(&read).contains(&pair("bob", "now I may")),
        "{read:?}"
    );
}

/// `group create --tree-on-ds` (draft-ietf-mls-ratchet-tree-options-00 §3
/// `distributionService`): the joiner fetches the tree from the DS, `group list` shows where
/// the tree is, both chat; with private handshakes the flag is refused with a way out.
#[test]
fn group_create_tree_on_ds_lets_joiners_fetch_the_tree_and_list_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    for user in ["alice", "bob"] {
        ok(&devnet, &home(user), &["register", user]);
    }
    let said = human(
        &devnet,
        &home("alice"),
        &[
            "group",
            "create",
            "big",
            "--tree-on-ds",
            "--allow-external-joins",
        ],
    );
    assert!(said.contains("ratchet tree on the DS"), "{said}");
    ok(&devnet, &home("alice"), &["group", "create", "small"]);
    for group in ["big", "small"] {
        ok(&devnet, &home("alice"), &["group", "add", group, "bob"]);
    }
    ok(&devnet, &home("bob"), &["sync"]);
    ok(&devnet, &home("bob"), &["send", "big", "hi from bob"]);
    ok(&devnet, &home("alice"), &["sync"]);
    let history = ok(&devnet, &home("alice"), &["history", "big"]);
    assert!(
        history[0]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "message" && e["body"] == "hi from bob"),
        "{history:?}"
    );
    let listed = ok(&devnet, &home("bob"), &["group", "list"]);
    let tree_on_ds = |name: &str| {
        listed[0]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap()["tree_on_ds"]
            .clone()
    };
    assert_eq!(tree_on_ds("big"), true);
    assert_eq!(tree_on_ds("small"), false);
    let list = human(&devnet, &home("bob"), &["group", "list"]);
    assert!(list.contains("tree: on the DS"), "{list}");
    assert!(list.contains("tree: in Welcomes"), "{list}");

    // Carol joins by an external commit, with the DS's tree, and reads what follows.
    ok(&devnet, &home("carol"), &["register", "carol"]);
    let created = ok(&devnet, &home("alice"), &["group", "list"]);
    let group_id = created[0]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "big")
        .unwrap()["group_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let joined = human(
        &devnet,
        &home("carol"),
        &["group", "join", &group_id, "mine"],
    );
    assert!(
        joined.contains("joined mine by an external commit"),
        "{joined}"
    );
    assert_eq!(
        members(&devnet, &home("carol"), "mine"),
        ["alice", "bob", "carol"]
    );
    ok(&devnet, &home("alice"), &["sync"]);
    ok(&devnet, &home("alice"), &["send", "big", "welcome carol"]);
    ok(&devnet, &home("carol"), &["sync"]);
    let history = ok(&devnet, &home("carol"), &["history", "mine"]);
    assert!(
        history[0]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "message" && e["body"] == "welcome carol"),
        "{history:?}"
    );

    let refused = fails(
        &devnet,
        &home("alice"),
        &[
            "group",
            "create",
            "hidden",
            "--tree-on-ds",
            "--handshakes",
            "private",
        ],
    );
    assert!(refused.contains("reads"), "{refused}");
    assert!(refused.contains("--handshakes semiprivate"), "{refused}");
}

fn epoch_of(devnet: &DevnetProcess, home: &Path, group: &str) -> u64 {
    let groups = ok(devnet, home, &["group", "list"]);
    groups[0]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == group)
        .unwrap()["epoch"]
        .as_u64()
        .unwrap()
}

/// `register --partial` (draft-ietf-mls-partial-02): a partial member joins a group
/// created with the defaults (semi-private handshakes, member proofs), reads and sends
/// messages, follows an add and a
/// removal of a third member, and a group operation that needs the tree is refused with
/// the reason and what to do.
#[test]
fn a_partial_member_registered_with_partial_talks_follows_commits_and_is_refused_commits() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path());
    let home = |u: &str| dir.path().join(u);
    for user in ["alice", "dave"] {
        ok(&devnet, &home(user), &["register", user]);
    }
    let registered = ok(&devnet, &home("carol"), &["register", "carol", "--partial"]);
    assert_eq!(registered.last().unwrap()["partial"], true);
    ok(&devnet, &home("alice"), &["group", "create", "team"]);
    ok(&devnet, &home("alice"), &["group", "add", "team", "carol"]);
    let joined = ok(&devnet, &home("carol"), &["sync"]);
    assert!(
        joined
            .iter()
            .any(|v| v["event"] == "joined" && v["group"] == "team"),
        "{joined:?}"
    );

    // Messages both ways.
    ok(&devnet, &home("alice"), &["send", "team", "hello carol"]);
    let carol = messages(&ok(&devnet, &home("carol"), &["sync"]));
    assert_eq!(carol, vec![pair("alice", "hello carol")]);
    ok(&devnet, &home("carol"), &["send", "team", "hello alice"]);
    let alice = messages(&ok(&devnet, &home("alice"), &["sync"]));
    assert_eq!(alice, vec![pair("carol", "hello alice")]);

    // A third member added and removed: carol follows both commits.
    ok(&devnet, &home("alice"), &["group", "add", "team", "dave"]);
    ok(&devnet, &home("dave"), &["sync"]);
    ok(&devnet, &home("dave"), &["send", "team", "dave was here"]);
    ok(&devnet, &home("alice"), &["sync"]);
    ok(
        &devnet,
        &home("alice"),
        &["group", "remove", "team", "dave"],
    );
    ok(&devnet, &home("alice"), &["send", "team", "dave is gone"]);
    let carol = messages(&ok(&devnet, &home("carol"), &["sync"]));
    assert_eq!(
        carol,
        vec![pair("dave", "dave was here"), pair("alice", "dave is gone")]
    );
    assert_eq!(
        epoch_of(&devnet, &home("carol"), "team"),
        epoch_of(&devnet, &home("alice"), "team")
    );
    let history = human(&devnet, &home("carol"), &["history", "team"]);
    assert!(history.contains("alice: hello carol"), "{history}");
    assert!(history.contains("carol: hello alice"), "{history}");

    // The refusal: what, why, and what to do.
    for args in [
        &["group", "add", "team", "dave"][..],
        &["group", "remove", "team", "alice"][..],
        &["group", "update", "team"][..],
    ] {
        let stderr = fails(&devnet, &home("carol"), args);
        assert!(stderr.contains("partial member"), "{stderr}");
        assert!(stderr.contains("holds no ratchet tree"), "{stderr}");
        assert!(stderr.contains("draft-ietf-mls-partial-02"), "{stderr}");
        assert!(stderr.contains("without --partial"), "{stderr}");
    }
    // Nothing was posted: alice is still in the epoch carol is in.
    ok(&devnet, &home("alice"), &["sync"]);
    assert_eq!(
        epoch_of(&devnet, &home("carol"), "team"),
        epoch_of(&devnet, &home("alice"), "team")
    );
}
