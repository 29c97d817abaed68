//! `conclave-ds-load`: a load benchmark of the Delivery Service (RFC 9750 §5-§6),
//! not a test.
//!
//! For each database and each client count C it starts a DS in process on a loopback port
//! (or targets `--url`), registers C clients — each a real MLS member with its own signature
//! key, logged in with a bearer token — and puts them in groups of `--group-size` members
//! (default 10: a chat service's many small groups; the last group may be smaller) made the
//! way a client does it: KeyPackages published and claimed through the DS, one commit bundle
//! with the Adds and the Welcome, members joining from their Welcome inbox. Each member then
//! encrypts a few application messages of `--message-size` plaintext bytes once, up front
//! (conclave_core PrivateMessages: the DS reads only their clear header, and what is measured
//! is the DS, not the client's crypto).
//!
//! For `--seconds` every member posts its messages (`POST /v1/groups/{id}/messages`) in a
//! loop as fast as the DS acknowledges them and, unless `--no-readers`, also reads its group
//! log with a cursor (`GET …/messages?after=N&limit=P`), the way a chat client follows its
//! groups: each message posted is fetched by every member of its group.
//!
//! ```text
//! conclave-ds-load                                   # SQLite (temporary file), C = 1, 10, 100
//! conclave-ds-load --database sqlite --database postgres://postgres@127.0.0.1:55432/db
//! conclave-ds-load --url http://127.0.0.1:8080 --clients 10 --seconds 30 --json out.json
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use conclave_api::delivery::{self as wire, CommitBundle};
use conclave_codec::{Decode, Encode};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams, NewGroup,
    SigningIdentity,
};
use conclave_core::messages::{Add, Credential, MlsMessage, MlsMessageBody, Proposal};
use conclave_crypto::{CipherSuite, CryptoRandom};
use conclave_ds::{AppState, DsConfig};
use conclave_service::OsRandom;
use serde::Serialize;

/// mimalloc instead of glibc's malloc: the DS in this process, as the `conclave-ds` binary runs it: a server allocates per request on many threads,
/// where glibc's arenas showed as 10–14 % of the DS's profile under load (`crates/ds/README.md`,
/// "Load benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
const SUITE: CipherSuite = CipherSuite(1);

/// Application messages each member encrypts up front and posts in turn.
const MESSAGES_PER_MEMBER: usize = 16;

/// A reader that found nothing new waits this long before it asks again.
const IDLE_READ: Duration = Duration::from_millis(10);

/// A load benchmark of the Conclave Delivery Service.
#[derive(Debug, Parser)]
#[command(name = "conclave-ds-load", version)]
struct Args {
    /// Database of the in-process DS; repeat for several: `sqlite` (a fresh temporary file
    /// per run, the default), `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
    #[arg(long = "database")]
    databases: Vec<String>,
    /// Load a running DS at this base URL instead of starting one.
    #[arg(long, conflicts_with = "databases")]
    url: Option<String>,
    /// Client counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 10, 100])]
    clients: Vec<usize>,
    /// Members per group.
    #[arg(long, default_value_t = 10)]
    group_size: usize,
    /// Seconds of load per configuration.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Plaintext bytes of each application message.
    #[arg(long, default_value_t = 100)]
    message_size: usize,
    /// Entries per fetch (the `limit` of a log read).
    #[arg(long, default_value_t = 100)]
    page: u32,
    /// Posts only: no member reads its group log.
    #[arg(long)]
    no_readers: bool,
    /// PostgreSQL connection pool of the in-process DS.
    #[arg(long, default_value_t = 16)]
    pool_size: usize,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn env() -> GroupEnv {
    GroupEnv {
        crypto: conclave_service::CryptoBackend::default().provider(),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(()),
    }
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut out = vec![0u8; bytes];
    OsRandom
        .fill(&mut out)
        .map_err(|e| anyhow!("random source: {e}"))?;
    Ok(hex::encode(out))
}

// ---- the DS under load ----------------------------------------------------------------------

/// A DS started in this process, or a remote one.
struct Server {
    base: String,
    running: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
    temp_db: Option<PathBuf>,
}

impl Server {
    async fn start(database: &str, pool_size: usize) -> anyhow::Result<Self> {
        let (url, temp_db) = if database == "sqlite" {
            let path = std::env::temp_dir().join(format!("conclave-ds-load-{}.db", random_hex(6)?));
            (format!("sqlite:{}", path.display()), Some(path))
        } else {
            (database.to_owned(), None)
        };
        let store = conclave_ds::open_store(&url, pool_size)
            .await
            .with_context(|| format!("opening {url}"))?;
        let config = DsConfig {
            claims_per_minute: u32::MAX,
            claims_per_target_per_minute: 0,
            ..DsConfig::default()
        };
        let state = AppState::new(store, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(conclave_ds::serve(
            listener,
            state,
            Duration::from_secs(3600),
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            base: format!("http://{addr}"),
            running: Some((stop, task)),
            temp_db,
        })
    }

    fn remote(url: &str) -> Self {
        Self {
            base: url.trim_end_matches('/').to_owned(),
            running: None,
            temp_db: None,
        }
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .context("the DS did not stop")???;
        }
        if let Some(path) = self.temp_db.take() {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
        Ok(())
    }
}

// ---- HTTP -----------------------------------------------------------------------------------

#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .timeout(Duration::from_secs(60))
                .build()?,
            base: base.to_owned(),
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.bytes().await?.to_vec()))
    }

    /// A request that must answer `expected` with a JSON body.
    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        expected: u16,
    ) -> anyhow::Result<T> {
        let (status, bytes) = self.send(method, path, token, body).await?;
        ensure!(
            status == expected,
            "{path}: status {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).with_context(|| format!("{path}: unexpected answer"))
    }

    async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        value: &impl Serialize,
        expected: u16,
    ) -> anyhow::Result<T> {
        let body = serde_json::to_vec(value)?;
        self.json(
            reqwest::Method::POST,
            path,
            token,
            Some(("application/json", body)),
            expected,
        )
        .await
    }
}

// ---- setup: real MLS members in groups ------------------------------------------------------

/// A member ready to load the DS.
struct Member {
    token: String,
    group_hex: String,
    /// Encoded application `MLSMessage`s (PrivateMessage) of the group's current epoch.
    messages: Vec<Vec<u8>>,
    /// The group's last sequence number when the load starts.
    cursor: u64,
}

/// Registers a client with a fresh signature key and logs in; returns its key and token.
async fn register(http: &Http, id: &str) -> anyhow::Result<(SigningIdentity, String)> {
    let cs = conclave_service::CryptoBackend::default()
        .provider()
        .cipher_suite_provider(SUITE)
        .ok_or_else(|| anyhow!("suite {} unsupported", SUITE.0))?;
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: id.as_bytes().to_vec(),
        },
        &mut OsRandom,
    )?;
    let credential = signer.credential.to_bytes()?;
    let tbs = wire::RegistrationTbs {
        client_id: id.as_bytes().to_vec(),
        cipher_suite: SUITE.0,
        signature_key: signer.public_key.as_ref().to_vec(),
        credential: credential.clone(),
    };
    let signature = wire::sign_registration(cs.as_ref(), signer.secret_key.as_bytes(), &tbs)?;
    let _: serde_json::Value = http
        .post_json(
            "/v1/clients",
            None,
            &wire::RegisterRequest {
                client_id: id.to_owned(),
                cipher_suite: SUITE.0,
                signature_key: STANDARD.encode(signer.public_key.as_ref()),
                credential: STANDARD.encode(&credential),
                signature: STANDARD.encode(&signature),
                partial: false,
            },
            201,
        )
        .await?;
    let challenge: wire::ChallengeResponse = http
        .post_json(
            "/v1/auth/challenge",
            None,
            &wire::ChallengeRequest {
                client_id: id.to_owned(),
            },
            200,
        )
        .await?;
    let challenge = STANDARD.decode(challenge.challenge)?;
    let signature =
        wire::sign_challenge(cs.as_ref(), signer.secret_key.as_bytes(), id, &challenge)?;
    let token: wire::TokenResponse = http
        .post_json(
            "/v1/auth/token",
            None,
            &wire::TokenRequest {
                client_id: id.to_owned(),
                challenge: STANDARD.encode(&challenge),
                signature: STANDARD.encode(&signature),
            },
            200,
        )
        .await?;
    Ok((signer, token.token))
}

/// One group of `size` members, set up through the DS as clients do it.
async fn setup_group(http: &Http, size: usize, message_size: usize) -> anyhow::Result<Vec<Member>> {
    let run = random_hex(4)?;
    let now = conclave_service::now_seconds();
    let mut clients = Vec::with_capacity(size);
    for i in 0..size {
        let id = format!("load-{run}-{i}");
        let (signer, token) = register(http, &id).await?;
        clients.push((id, signer, token));
    }
    let ((_, creator_signer, creator_token), others) = clients
        .split_first()
        .ok_or_else(|| anyhow!("a group needs a member"))?;

    // The others publish a KeyPackage each.
    let mut bundles = HashMap::new();
    for (id, signer, token) in others {
        let bundle = KeyPackageBundle::generate(
            &MemberParams::new(env(), signer.clone()),
            SUITE,
            now,
            &mut OsRandom,
        )?;
        let message = MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package.clone()));
        let _: serde_json::Value = http
            .json(
                reqwest::Method::POST,
                "/v1/key-packages",
                Some(token),
                Some((wire::MLS_MEDIA_TYPE, message.to_bytes()?)),
                201,
            )
            .await?;
        bundles.insert(id.clone(), bundle);
    }

    // The creator makes the group, claims their KeyPackages and adds them in one commit.
    let group_id = format!("load-group-{run}").into_bytes();
    let group_hex = hex::encode(&group_id);
    let mut creator = Group::create(
        MemberParams::new(env(), creator_signer.clone()),
        NewGroup::new(SUITE, group_id),
        now,
        &mut OsRandom,
    )?;
    let _: serde_json::Value = http
        .post_json(
            "/v1/groups",
            Some(creator_token),
            &wire::CreateGroupRequest {
                group_id: group_hex.clone(),
                epoch: 0,
                allow_external_join: false,
                group_info: None,
                ratchet_tree: None,
                member_proof: None,
                tree_on_ds: false,
            },
            201,
        )
        .await?;
    let mut proposals = Vec::new();
    for (id, _, _) in others {
        let (status, bytes) = http
            .send(
                reqwest::Method::POST,
                "/v1/key-packages/claim",
                Some(creator_token),
                Some((
                    "application/json",
                    serde_json::to_vec(&wire::ClaimRequest {
                        client_id: id.clone(),
                        cipher_suite: SUITE.0,
                        group_id: None,
                    })?,
                )),
            )
            .await?;
        ensure!(status == 200, "claim: status {status}");
        let MlsMessageBody::KeyPackage(key_package) = MlsMessage::from_bytes(&bytes)?.body else {
            bail!("the claim did not answer a KeyPackage");
        };
        proposals.push(Proposal::Add(Add { key_package }));
    }
    let mut cursor = 0;
    if !proposals.is_empty() {
        let output = creator.commit(
            &CommitOptions {
                proposals,
                ..CommitOptions::default()
            },
            now,
            &mut OsRandom,
        )?;
        let bundle = CommitBundle {
            commit: output.commit,
            welcome: output.welcome,
            group_info: output.group_info,
            ratchet_tree: None,
            members: clients
                .iter()
                .map(|(id, _, _)| id.as_bytes().to_vec())
                .collect(),
            allow_external_join: None,
        };
        let accepted: wire::Accepted = http
            .json(
                reqwest::Method::POST,
                &format!("/v1/groups/{group_hex}/commits"),
                Some(creator_token),
                Some((wire::COMMIT_BUNDLE_MEDIA_TYPE, bundle.to_bytes()?)),
                200,
            )
            .await?;
        creator.merge_pending_commit()?;
        cursor = accepted.seq;
    }

    // Everyone else joins from its Welcome inbox.
    let mut groups = vec![(creator_token.clone(), creator)];
    for (id, signer, token) in others {
        let page: wire::WelcomePage = http
            .json(reqwest::Method::GET, "/v1/welcomes", Some(token), None, 200)
            .await?;
        let view = page
            .welcomes
            .first()
            .ok_or_else(|| anyhow!("{id}: no Welcome in the inbox"))?;
        let MlsMessageBody::Welcome(welcome) =
            MlsMessage::from_bytes(&STANDARD.decode(&view.message)?)?.body
        else {
            bail!("{id}: the inbox holds something else than a Welcome");
        };
        let bundle = bundles
            .get(id)
            .ok_or_else(|| anyhow!("{id}: no KeyPackage"))?;
        let group = Group::join(
            MemberParams::new(env(), signer.clone()),
            &welcome,
            bundle,
            &JoinOptions::default(),
            now,
        )?;
        ensure!(
            group.epoch_authenticator() == creator_authenticator(&groups)?,
            "{id} joined another epoch than the creator's"
        );
        groups.push((token.clone(), group));
    }

    // Every member encrypts its messages once.
    let mut members = Vec::with_capacity(size);
    for (token, mut group) in groups {
        let mut messages = Vec::with_capacity(MESSAGES_PER_MEMBER);
        for _ in 0..MESSAGES_PER_MEMBER {
            let mut text = vec![0u8; message_size];
            OsRandom.fill(&mut text)?;
            messages.push(
                group
                    .encrypt_application_message(&text, b"", &mut OsRandom)?
                    .to_bytes()?,
            );
        }
        members.push(Member {
            token,
            group_hex: group_hex.clone(),
            messages,
            cursor,
        });
    }
    Ok(members)
}

fn creator_authenticator(groups: &[(String, Group)]) -> anyhow::Result<&[u8]> {
    Ok(groups
        .first()
        .ok_or_else(|| anyhow!("no creator"))?
        .1
        .epoch_authenticator())
}

// ---- the load -------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    entries: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.entries += other.entries;
    }
}

async fn post_loop(http: Http, member: Arc<Member>, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let path = format!("/v1/groups/{}/messages", member.group_hex);
    for message in member.messages.iter().cycle() {
        if Instant::now() >= deadline {
            break;
        }
        let started = Instant::now();
        let sent = http
            .send(
                reqwest::Method::POST,
                &path,
                Some(&member.token),
                Some((wire::MLS_MEDIA_TYPE, message.clone())),
            )
            .await;
        match sent {
            Ok((200, _)) => tally.latencies.push(started.elapsed()),
            Ok((status, body)) => {
                tally.errors += 1;
                if tally.errors == 1 {
                    eprintln!("post: status {status}: {}", String::from_utf8_lossy(&body));
                }
            }
            Err(e) => {
                tally.errors += 1;
                if tally.errors == 1 {
                    eprintln!("post: {e:#}");
                }
            }
        }
    }
    tally
}

async fn read_loop(http: Http, member: Arc<Member>, page: u32, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut cursor = member.cursor;
    while Instant::now() < deadline {
        let path = format!(
            "/v1/groups/{}/messages?after={cursor}&limit={page}",
            member.group_hex
        );
        let started = Instant::now();
        let read: anyhow::Result<wire::LogPage> = http
            .json(reqwest::Method::GET, &path, Some(&member.token), None, 200)
            .await;
        match read {
            Ok(log) => {
                tally.latencies.push(started.elapsed());
                tally.entries += log.entries.len() as u64;
                match log.entries.last() {
                    Some(last) => cursor = last.seq,
                    None => tokio::time::sleep(IDLE_READ).await,
                }
            }
            Err(e) => {
                tally.errors += 1;
                if tally.errors == 1 {
                    eprintln!("read: {e:#}");
                }
            }
        }
    }
    tally
}

/// One configuration's results.
#[derive(Debug, Clone, Serialize)]
struct Outcome {
    engine: String,
    clients: usize,
    groups: usize,
    group_size: usize,
    readers: bool,
    seconds: f64,
    message_bytes: usize,
    posts: u64,
    post_errors: u64,
    posts_per_second: f64,
    post_p50_ms: f64,
    post_p99_ms: f64,
    post_max_ms: f64,
    fetches: u64,
    fetch_errors: u64,
    fetches_per_second: f64,
    entries_fetched: u64,
    entries_per_second: f64,
    fetch_p50_ms: f64,
    fetch_p99_ms: f64,
}

/// The `num/den` quantile of sorted latencies, in milliseconds.
fn quantile_ms(sorted: &[Duration], num: usize, den: usize) -> f64 {
    let index = sorted.len().saturating_sub(1) * num / den.max(1);
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn run_config(args: &Args, server: &Server, clients: usize) -> anyhow::Result<Outcome> {
    let http = Http::new(&server.base)?;
    let health: serde_json::Value = http
        .json(reqwest::Method::GET, "/v1/health", None, None, 200)
        .await?;
    let engine = health
        .get("engine")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let group_size = args.group_size.max(1);
    let mut members = Vec::with_capacity(clients);
    let mut groups = 0;
    while members.len() < clients {
        let size = group_size.min(clients - members.len());
        members.extend(setup_group(&http, size, args.message_size).await?);
        groups += 1;
    }
    let message_bytes = members
        .first()
        .and_then(|m| m.messages.first())
        .map_or(0, Vec::len);
    let members: Vec<Arc<Member>> = members.into_iter().map(Arc::new).collect();

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut posters = Vec::new();
    let mut readers = Vec::new();
    for member in &members {
        posters.push(tokio::spawn(post_loop(
            http.clone(),
            member.clone(),
            deadline,
        )));
        if !args.no_readers {
            readers.push(tokio::spawn(read_loop(
                http.clone(),
                member.clone(),
                args.page,
                deadline,
            )));
        }
    }
    let mut posts = Tally::default();
    for task in posters {
        posts.merge(task.await?);
    }
    let mut reads = Tally::default();
    for task in readers {
        reads.merge(task.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    posts.latencies.sort_unstable();
    reads.latencies.sort_unstable();
    let count = |t: &Tally| t.latencies.len() as u64;
    Ok(Outcome {
        engine,
        clients,
        groups,
        group_size,
        readers: !args.no_readers,
        seconds,
        message_bytes,
        posts: count(&posts),
        post_errors: posts.errors,
        posts_per_second: count(&posts) as f64 / seconds,
        post_p50_ms: quantile_ms(&posts.latencies, 50, 100),
        post_p99_ms: quantile_ms(&posts.latencies, 99, 100),
        post_max_ms: quantile_ms(&posts.latencies, 1, 1),
        fetches: count(&reads),
        fetch_errors: reads.errors,
        fetches_per_second: count(&reads) as f64 / seconds,
        entries_fetched: reads.entries,
        entries_per_second: reads.entries as f64 / seconds,
        fetch_p50_ms: quantile_ms(&reads.latencies, 50, 100),
        fetch_p99_ms: quantile_ms(&reads.latencies, 99, 100),
    })
}

const HEADER: &str = "| engine | clients | groups | posts/s | post p50 ms | post p99 ms | \
                      post max ms | fetches/s | entries fetched/s | fetch p50 ms | \
                      fetch p99 ms | errors |";
const RULE: &str =
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |";

fn row(o: &Outcome) -> String {
    format!(
        "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {:.0} | {:.0} | {:.2} | {:.2} | {} |",
        o.engine,
        o.clients,
        o.groups,
        o.posts_per_second,
        o.post_p50_ms,
        o.post_p99_ms,
        o.post_max_ms,
        o.fetches_per_second,
        o.entries_per_second,
        o.fetch_p50_ms,
        o.fetch_p99_ms,
        o.post_errors + o.fetch_errors
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    conclave_service::init_logging(conclave_service::LogFormat::Text, "warn");
    let args = Args::parse();
    ensure!(
        !args.clients.is_empty(),
        "--clients: give at least one count"
    );
    let targets: Vec<Option<String>> = match (&args.url, args.databases.is_empty()) {
        (Some(_), _) => vec![None],
        (None, true) => vec![Some("sqlite".to_owned())],
        (None, false) => args.databases.iter().cloned().map(Some).collect(),
    };
    eprintln!(
        "conclave-ds-load: {} s per configuration, groups of {}, {} B messages, readers {}",
        args.seconds,
        args.group_size,
        args.message_size,
        if args.no_readers { "off" } else { "on" }
    );
    let mut outcomes = Vec::new();
    for target in &targets {
        for &clients in &args.clients {
            let server = match (target, &args.url) {
                (Some(database), _) => Server::start(database, args.pool_size).await?,
                (None, Some(url)) => Server::remote(url),
                (None, None) => bail!("nothing to load"),
            };
            let outcome = run_config(&args, &server, clients).await;
            server.stop().await?;
            let outcome = outcome?;
            eprintln!("{}", row(&outcome));
            outcomes.push(outcome);
        }
    }
    if let Some(o) = outcomes.first() {
        println!(
            "{} s per configuration; groups of {}; application messages of {} B \
             ({} B plaintext); readers {}",
            args.seconds,
            args.group_size,
            o.message_bytes,
            args.message_size,
            if args.no_readers { "off" } else { "on" }
        );
    }
    println!();
    println!("{HEADER}");
    println!("{RULE}");
    for o in &outcomes {
        println!("{}", row(o));
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&outcomes)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
