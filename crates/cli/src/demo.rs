//! `conclave demo`: the README's scenario, end to end. A devnet (DS + AS, SQLite) starts in
//! a temporary directory; alice, bob and carol are separate `conclave` processes with their
//! own profiles. They register, alice creates a group and adds bob and carol, everyone
//! talks, alice removes carol, and a message sent after that is shown to be unreadable for
//! carol — her client reports the removal, and the stored ciphertext does not decrypt with
//! her last epoch's keys. The Delivery Service's database is searched for the plaintexts:
//! it holds only ciphertext. Exits non-zero if any expectation fails.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use conclave_server::devnet::{Devnet, DevnetOptions};
use serde_json::Value;

use crate::output::Output;

struct Demo {
    exe: PathBuf,
    root: PathBuf,
    devnet: PathBuf,
    failures: Vec<String>,
}

/// One finished client invocation.
struct Run {
    ok: bool,
    lines: Vec<Value>,
    stderr: String,
}

impl Run {
    fn events(&self, kind: &str) -> impl Iterator<Item = &Value> {
        self.lines
            .iter()
            .filter(move |v| v.get("event").and_then(Value::as_str) == Some(kind))
    }

    fn messages(&self) -> Vec<(String, String)> {
        self.events("message")
            .map(|v| {
                (
                    v["sender"].as_str().unwrap_or_default().to_owned(),
                    v["text"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

impl Demo {
    fn home(&self, user: &str) -> PathBuf {
        self.root.join(user)
    }

    async fn run(&self, user: &str, args: &[&str]) -> anyhow::Result<Run> {
        let output = tokio::process::Command::new(&self.exe)
            .arg("--home")
            .arg(self.home(user))
            .arg("--devnet")
            .arg(&self.devnet)
            .arg("--json")
            .args(args)
            .env_remove("CONCLAVE_DS")
            .env_remove("CONCLAVE_AS")
            .output()
            .await
            .with_context(|| format!("running {} for {user}", self.exe.display()))?;
        let lines = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        Ok(Run {
            ok: output.status.success(),
            lines,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }

    /// Runs a step that must succeed.
    async fn must(&self, user: &str, args: &[&str]) -> anyhow::Result<Run> {
        let run = self.run(user, args).await?;
        if !run.ok {
            bail!(
                "`conclave {}` as {user} failed: {}",
                args.join(" "),
                run.stderr
            );
        }
        Ok(run)
    }

    fn expect(&mut self, ok: bool, what: &str) {
        if ok {
            println!("   ✔ {what}");
        } else {
            println!("   ✘ {what}");
            self.failures.push(what.to_owned());
        }
    }
}

fn say(text: &str) {
    println!("{text}");
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every byte the DS keeps on disk (database, WAL).
fn ds_files(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["ds.db", "ds.db-wal", "ds.db-shm"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            all.extend_from_slice(&bytes);
        }
    }
    all
}

pub(crate) async fn run(_out: &Output) -> anyhow::Result<()> {
    let temp = tempfile::tempdir().context("creating a temporary directory")?;
    let exe = std::env::current_exe().context("finding the conclave executable")?;
    let devnet_dir = temp.path().join("devnet");
    let devnet = Devnet::start(&DevnetOptions::new(&devnet_dir)).await?;
    say(&format!(
        "devnet: Delivery Service + Authentication Service at {} (SQLite in {})",
        devnet.info.ds_url,
        devnet_dir.display()
    ));
    let mut demo = Demo {
        exe,
        root: temp.path().to_path_buf(),
        devnet: devnet_dir.clone(),
        failures: Vec::new(),
    };
    let result = scenario(&mut demo).await;
    devnet.shutdown().await?;
    result?;
    if demo.failures.is_empty() {
        say(
            "\nall expectations held: the DS saw only ciphertext, and carol cannot read after her removal.",
        );
        Ok(())
    } else {
        Err(anyhow!(
            "{} expectation(s) failed: {}",
            demo.failures.len(),
            demo.failures.join("; ")
        ))
    }
}

/// "is at epoch N with a, b" from a `group add`/`group remove` answer.
fn group_state(run: &Run) -> String {
    let last = run.lines.last();
    let epoch = last
        .and_then(|v| v.get("epoch"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let members: Vec<&str> = last
        .and_then(|v| v.get("members"))
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!("is at epoch {epoch} with {}", members.join(", "))
}

async fn scenario(demo: &mut Demo) -> anyhow::Result<()> {
    say("\n1. Three users register (X.509 credential from the AS, KeyPackages on the DS)");
    for user in ["alice", "bob", "carol"] {
        demo.must(user, &["register", user]).await?;
        say(&format!("   {user}: registered as mls://{user}"));
    }

    say("\n2. alice creates the group \"friends\" and adds bob and carol (one commit)");
    demo.must("alice", &["group", "create", "friends"]).await?;
    let added = demo
        .must("alice", &["group", "add", "friends", "bob", "carol"])
        .await?;
    say(&format!("   alice: friends {}", group_state(&added)));
    for user in ["bob", "carol"] {
        let run = demo.must(user, &["sync"]).await?;
        let joined = run
            .events("joined")
            .any(|v| v["group"].as_str() == Some("friends"));
        demo.expect(joined, &format!("{user} joined friends from the Welcome"));
    }

    say("\n3. Everyone talks");
    let lines = [
        ("alice", "Hi bob and carol! Welcome to Conclave."),
        ("bob", "Hello! Only the three of us can read this."),
        ("carol", "Carol here. Nice and private."),
    ];
    for (user, text) in lines {
        demo.must(user, &["send", "friends", text]).await?;
        say(&format!("   {user} → friends: {text}"));
    }
    for user in ["alice", "bob", "carol"] {
        let run = demo.must(user, &["sync"]).await?;
        let got = run.messages();
        let expected: Vec<(String, String)> = lines
            .iter()
            .filter(|(from, _)| *from != user)
            .map(|(from, text)| ((*from).to_owned(), (*text).to_owned()))
            .collect();
        for (from, text) in &got {
            say(&format!("   {user} reads  {from}: {text}"));
        }
        demo.expect(
            expected.iter().all(|e| got.contains(e)),
            &format!("{user} read the other two messages"),
        );
    }

    say("\n4. alice removes carol (one commit; new epoch keys carol never gets)");
    let removed = demo
        .must("alice", &["group", "remove", "friends", "carol"])
        .await?;
    say(&format!("   alice: friends {}", group_state(&removed)));
    let secret = "Carol is gone: she cannot read this.";
    demo.must("alice", &["send", "friends", secret]).await?;
    say(&format!("   alice → friends: {secret}"));

    let bob = demo.must("bob", &["sync"]).await?;
    let bob_read = bob
        .messages()
        .iter()
        .any(|(from, text)| from == "alice" && text == secret);
    if bob_read {
        say(&format!("   bob reads  alice: {secret}"));
    }
    demo.expect(bob_read, "bob read alice's message after the removal");

    let carol = demo.must("carol", &["sync"]).await?;
    let carol_removed = carol
        .events("removed")
        .find(|v| v["group"].as_str() == Some("friends"))
        .and_then(|v| v["reason"].as_str().map(str::to_owned));
    match &carol_removed {
        Some(reason) => say(&format!("   carol's client: {reason}")),
        None => say("   carol's client reported no removal"),
    }
    demo.expect(
        carol_removed.is_some(),
        "carol's client reports that she was removed",
    );
    demo.expect(
        !carol.messages().iter().any(|(_, text)| text == secret),
        "carol's sync shows nothing of the new message",
    );

    say("\n5. The ciphertext itself: carol tries the stored message with her last epoch's keys");
    let raw = demo.must("bob", &["raw", "friends"]).await?;
    let last = raw
        .lines
        .first()
        .and_then(|page| page["entries"].as_array())
        .and_then(|entries| entries.last())
        .cloned()
        .ok_or_else(|| anyhow!("the DS log is empty"))?;
    let field = |key: &str| last.get(key).cloned().unwrap_or(Value::Null);
    let ciphertext = field("message").as_str().unwrap_or_default().to_owned();
    say(&format!(
        "   the DS stores entry {} (epoch {}, from {}): {} bytes of PrivateMessage",
        field("seq"),
        field("epoch"),
        field("sender").as_str().unwrap_or("?"),
        ciphertext.len() * 3 / 4
    ));
    let attempt = demo
        .run("carol", &["decrypt", "friends", &ciphertext])
        .await?;
    let refusal = attempt
        .lines
        .iter()
        .find_map(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| attempt.stderr.clone());
    if attempt.ok {
        say("   carol decrypted it (this must not happen)");
    } else {
        say(&format!("   carol's client refuses: {refusal}"));
    }
    demo.expect(
        !attempt.ok,
        "carol cannot decrypt the message sent after her removal",
    );

    say("\n6. What the Delivery Service holds on disk");
    let disk = ds_files(&demo.devnet);
    let mut leaked = Vec::new();
    for text in lines.iter().map(|(_, t)| *t).chain([secret]) {
        if contains_bytes(&disk, text.as_bytes()) {
            leaked.push(text);
        }
    }
    say(&format!(
        "   searched {} bytes of DS database for the 4 plaintexts: {} found",
        disk.len(),
        leaked.len()
    ));
    demo.expect(leaked.is_empty(), "the DS stores only ciphertext");
    Ok(())
}
