//! `conclave`: the Conclave command line. Users, groups and messages over the
//! Delivery Service and the Authentication Service, end-to-end encrypted with MLS
//! (RFC 9420); `conclave devnet` runs both services locally and `conclave demo` plays the
//! README's scenario.
//!
//! ```text
//! conclave devnet                       # DS + AS on 127.0.0.1 with SQLite
//! conclave --home /tmp/alice register alice
//! conclave --home /tmp/alice group create friends
//! conclave --home /tmp/alice group add friends bob carol
//! conclave --home /tmp/alice send friends "hello"
//! conclave --home /tmp/bob sync
//! conclave --home /tmp/alice group topic friends "Friday lunch"
//! ```

mod demo;
mod output;

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use clap::{Parser, Subcommand};
use conclave_api::AsClient;
use conclave_client::{Client, ClientOptions, CredentialKind, Event, LeaveMechanism};
use conclave_server::devnet::{Devnet, DevnetInfo, DevnetOptions};

use crate::output::Output;

/// Conclave: end-to-end encrypted group messaging with MLS (RFC 9420).
#[derive(Debug, Parser)]
#[command(name = "conclave", version)]
struct Cli {
    /// The profile directory (keys, groups, history).
    #[arg(long, global = true, env = "CONCLAVE_HOME")]
    home: Option<PathBuf>,
    /// The Delivery Service URL (default: the profile's, else the devnet's).
    #[arg(long = "ds", global = true, env = "CONCLAVE_DS")]
    ds_url: Option<String>,
    /// The Authentication Service URL (default: the profile's, else the devnet's).
    #[arg(long = "as", global = true, env = "CONCLAVE_AS")]
    as_url: Option<String>,
    /// The devnet data directory whose devnet.json gives the service URLs.
    #[arg(long, global = true, env = "CONCLAVE_DEVNET")]
    devnet: Option<PathBuf>,
    /// Machine-readable output: one JSON value per line.
    #[arg(long, global = true)]
    json: bool,
    /// Behave as a client without SelfRemove (draft-ietf-mls-extensions-10 §6.3): new
    /// KeyPackages and groups do not list it, and `group leave` sends a Remove proposal.
    #[arg(long, global = true, env = "CONCLAVE_NO_SELF_REMOVE")]
    no_self_remove: bool,
    /// Commit other members' late Update proposals as Replace proposals
    /// (draft-barnes-mls-replace-00) instead of dropping them; off by default (see the client
    /// README for its post-compromise-security caveat).
    #[arg(long, global = true, env = "CONCLAVE_REPLACE_LATE_UPDATES")]
    replace_late_updates: bool,
    /// Create groups without member proofs (draft-mahy-mls-member-proof-00). By default a
    /// new group requires a proof of membership of the current epoch in every message, and
    /// the DS refuses messages without one into its log.
    #[arg(long, global = true, env = "CONCLAVE_NO_MEMBER_PROOFS")]
    no_member_proofs: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a Delivery Service and an Authentication Service on loopback (SQLite in --data).
    Devnet {
        /// Data directory (default: the --devnet directory).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Port (0: any free port).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Lifetime of the certificates the AS issues, seconds.
        #[arg(long, default_value_t = 86_400)]
        certificate_lifetime: u64,
        /// Cipher suite of the devnet (its AS root, so every client that enrols): a number
        /// (1, 2, 3, 7, or a post-quantum suite such as 0xF0A0) or a post-quantum suite's
        /// draft name, e.g. MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519. Used when the
        /// devnet's databases are created.
        #[arg(long, default_value = "1", value_parser = parse_suite)]
        cipher_suite: u16,
    },
    /// Create this profile: enrol with the AS, register with the DS, publish KeyPackages.
    Register {
        /// Your user name (a-z, 0-9, '.', '_', '-').
        name: String,
        /// The one-time enrolment token from the AS administrator (on a devnet: minted
        /// automatically when omitted).
        #[arg(long)]
        token: Option<String>,
        /// The credential to ask the AS for: `x509` (a certificate, renewed automatically)
        /// or `userinfo-vc` (a UserInfo Verifiable Credential, draft-barnes-mls-addl-creds;
        /// not renewed: enrol again before it expires). Members accept both.
        #[arg(long, default_value = "x509", value_parser = ["x509", "userinfo-vc"])]
        credential: String,
        /// Register a partial client (draft-ietf-mls-partial-02): it holds no ratchet tree —
        /// only its own leaf, its path's keys and the epoch secrets — and follows its groups
        /// from what the DS annotates (Welcomes, commits, senders' proofs). It reads and
        /// sends messages but cannot create groups, add, remove, update or leave. Its groups
        /// must have public or semi-private handshakes and no member proofs.
        #[arg(long)]
        partial: bool,
    },
    /// Groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Make an invitation for one group: a KeyPackage bound to it (draft-mahy-mls-kp-context),
    /// printed as a link to hand to a member out of band (`group add <group> --invitation`).
    Invite {
        /// The group's id (hex; a member sees it in `group list --json`).
        group_id: String,
    },
    /// Send a message (`-` reads one message per line from standard input).
    Send {
        /// The group.
        group: String,
        /// Send privately to this one member (a targeted message the others cannot read
        /// and the Delivery Service routes to that member only).
        #[arg(long)]
        to: Option<String>,
        /// The text.
        text: String,
    },
    /// Fetch Welcomes and new messages, apply commits, top up KeyPackages.
    Sync,
    /// Stay connected and print new messages as they arrive (WebSocket wake-ups).
    Watch,
    /// Show a group's history.
    History {
        /// The group.
        group: String,
    },
    /// Mint a one-time enrolment token for a user at the AS (administrator).
    Token {
        /// The user.
        name: String,
        /// The AS admin token file (default: the devnet's).
        #[arg(long, env = "CONCLAVE_AS_ADMIN_TOKEN_FILE")]
        admin_token_file: Option<PathBuf>,
    },
    /// Revoke a user at the AS (administrator).
    Revoke {
        /// The user.
        name: String,
        /// The AS admin token file (default: the devnet's).
        #[arg(long, env = "CONCLAVE_AS_ADMIN_TOKEN_FILE")]
        admin_token_file: Option<PathBuf>,
    },
    /// Start a devnet in a temporary directory and play alice, bob and carol.
    Demo,
    /// Print the group log as the Delivery Service stores it (ciphertext).
    #[command(hide = true)]
    Raw {
        /// The group.
        group: String,
    },
    /// Try to decrypt a stored message (base64 `MLSMessage`) with this profile's state.
    #[command(hide = true)]
    Decrypt {
        /// The group.
        group: String,
        /// The message, base64.
        message: String,
    },
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// Create a group with you as its only member.
    Create {
        /// A name for it.
        name: String,
        /// How handshakes (proposals, commits) travel: `semiprivate` (default: encrypted,
        /// and readable by the DS with its published key so that it can check them),
        /// `public` (readable by anyone on the path), or `private` (the DS sees only clear
        /// headers and cannot protect the roster). Joiners follow the group's mode.
        #[arg(long, default_value = "semiprivate")]
        handshakes: conclave_client::HandshakeMode,
        /// Roles and room policy (draft-ietf-mimi-room-policy): `admins-only` (admins add,
        /// remove, ban and change roles; members may only leave), `cooperative` (every
        /// member may add, remove and ban), `open` (anyone may join; members may add) or
        /// `announcements` (as admins-only, and only admins post; members read).
        /// You start as admin (member in `cooperative`). Without it, every member may add
        /// and remove anyone.
        #[arg(long)]
        policy: Option<conclave_client::policy::Preset>,
        /// Let the Delivery Service hold the group's ratchet tree
        /// (draft-ietf-mls-ratchet-tree-options-00): Welcomes and GroupInfos leave the tree
        /// out (it grows with every member) and joiners fetch it from the DS, checking it
        /// against the tree hash. Needs `semiprivate` or `public` handshakes.
        #[arg(long)]
        tree_on_ds: bool,
        /// Let any registered user join by an external commit (`conclave group join`): the DS
        /// serves them the group's GroupInfo and tree.
        #[arg(long)]
        allow_external_joins: bool,
    },
    /// Join a group that allows external joins by an external commit (RFC 9420 §12.4.3.2),
    /// with the GroupInfo (and, for a group created with --tree-on-ds, the tree) from the DS.
    Join {
        /// The group id (hex, as `group list --json` shows it).
        group_id: String,
        /// A local name for the group.
        name: String,
    },
    /// Add users (one commit; their KeyPackages are claimed and checked), or the user of an
    /// invitation link (`--invitation`, made with `conclave invite`).
    Add {
        /// The group.
        group: String,
        /// The users.
        #[arg(required_unless_present = "invitation")]
        users: Vec<String>,
        /// An invitation link: the KeyPackage a user bound to this group.
        #[arg(long, conflicts_with = "users")]
        invitation: Option<String>,
    },
    /// Remove users (one commit).
    Remove {
        /// The group.
        group: String,
        /// The users.
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Refresh your keys in a group (an empty commit with a new path: post-compromise
    /// security).
    Update {
        /// The group.
        group: String,
    },
    /// Leave a group: a SelfRemove proposal if every member supports it, else a Remove
    /// proposal of your leaf (the next commit by a remaining member removes you).
    Leave {
        /// The group.
        group: String,
    },
    /// Show the group topic, set it (one commit), or clear it with --clear. The topic is
    /// UTF-8 text of at most 256 bytes, which every member's client checks.
    Topic {
        /// The group.
        group: String,
        /// The new topic; without it (and without --clear) the current topic is shown.
        #[arg(conflicts_with = "clear")]
        text: Option<String>,
        /// Remove the topic.
        #[arg(long)]
        clear: bool,
    },
    /// Show the participants' roles, or give a user a role (one commit): `admin`, `member`,
    /// `banned` (also removes their clients) or `none` (removes them), as the group's roles
    /// name them. Every member checks that your role may make the change.
    Role {
        /// The group.
        group: String,
        /// The user; without it the roles are shown.
        #[arg(requires = "role")]
        user: Option<String>,
        /// The role to give.
        role: Option<String>,
    },
    /// List your groups (with their topics).
    List,
}

fn default_base() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl Cli {
    fn home(&self) -> PathBuf {
        self.home
            .clone()
            .unwrap_or_else(|| default_base().join(".conclave"))
    }

    fn devnet_dir(&self) -> PathBuf {
        self.devnet
            .clone()
            .unwrap_or_else(|| default_base().join(".conclave-devnet"))
    }

    fn devnet_info(&self) -> anyhow::Result<Option<DevnetInfo>> {
        Ok(DevnetInfo::load(&self.devnet_dir())?)
    }

    fn open(&self) -> anyhow::Result<Client> {
        // The profile's stored URLs, unless overridden on the command line.
        Ok(Client::open(
            &self.home(),
            self.ds_url.as_deref(),
            self.as_url.as_deref(),
            self.client_options(),
        )?)
    }

    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            self_remove: !self.no_self_remove,
            member_proofs: !self.no_member_proofs,
            replace_late_updates: self.replace_late_updates,
            ..ClientOptions::default()
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let out = Output::new(cli.json);
    match runtime.block_on(run(&cli, &out)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli, out: &Output) -> anyhow::Result<()> {
    match &cli.command {
        Command::Devnet {
            data,
            port,
            certificate_lifetime,
            cipher_suite,
        } => {
            devnet(
                cli,
                out,
                data.clone(),
                *port,
                *certificate_lifetime,
                *cipher_suite,
            )
            .await
        }
        Command::Register {
            name,
            token,
            credential,
            partial,
        } => {
            let kind = if credential == "userinfo-vc" {
                CredentialKind::UserInfoVc
            } else {
                CredentialKind::Certificate
            };
            register(cli, out, name, token.as_deref(), kind, *partial).await
        }
        Command::Group(g) => group(cli, out, g).await,
        Command::Send {
            group,
            to: Some(user),
            text,
        } => send_to(cli, out, group, user, text).await,
        Command::Send {
            group,
            to: None,
            text,
        } => send(cli, out, group, text).await,
        Command::Invite { group_id } => {
            let mut client = cli.open()?;
            let link = client.invitation(group_id).await?;
            out.value(
                &serde_json::json!({"group_id": group_id, "invitation": link}),
                &link,
            );
            Ok(())
        }
        Command::Sync => {
            let mut client = cli.open()?;
            let printer = *out;
            let spinner = out.spinner("syncing (joining groups, applying the logs)");
            let bar = spinner.clone();
            client.set_observer(move |e| match &bar {
                Some(bar) => bar.suspend(|| printer.event(e)),
                None => printer.event(e),
            });
            let report = client.sync().await;
            if let Some(bar) = spinner {
                bar.finish_and_clear();
            }
            let report = report?;
            out.sync_report(&report);
            if let Some(name) = report.desynchronized.first() {
                // The typed error carries the explanation and the way out.
                let summary = client.group(name)?;
                bail!(conclave_client::ClientError::Desynchronized {
                    group: name.clone(),
                    epoch: summary.epoch,
                    reason: summary.reason.unwrap_or_default(),
                });
            }
            Ok(())
        }
        Command::Watch => {
            let mut client = cli.open()?;
            let printer = *out;
            client.set_observer(move |e| printer.event(e));
            out.note(&format!("watching as {} (Ctrl-C to stop)", client.name()));
            client
                .watch(std::time::Duration::from_secs(30), async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
            Ok(())
        }
        Command::History { group } => {
            let client = cli.open()?;
            out.history(group, &client.history(group)?);
            Ok(())
        }
        Command::Token {
            name,
            admin_token_file,
        } => {
            let (api, admin_token) = admin(cli, admin_token_file.as_deref())?;
            let token = api.issue_token(&admin_token, name).await?;
            out.value(&serde_json::json!({"name": name, "token": token}), &token);
            Ok(())
        }
        Command::Revoke {
            name,
            admin_token_file,
        } => {
            let (api, admin_token) = admin(cli, admin_token_file.as_deref())?;
            api.revoke(&admin_token, name).await?;
            out.value(
                &serde_json::json!({"revoked": name}),
                &format!("{name} is revoked: members will refuse to add them"),
            );
            Ok(())
        }
        Command::Demo => demo::run(out).await,
        Command::Raw { group } => {
            let client = cli.open()?;
            let summary = client.group(group)?;
            let body = client
                .ds()
                .get_raw(&format!(
                    "/v1/groups/{}/messages?after=0&limit=1000",
                    summary.group_id
                ))
                .await?;
            let value: serde_json::Value =
                serde_json::from_slice(&body).context("the DS log page")?;
            println!("{value}");
            Ok(())
        }
        Command::Decrypt { group, message } => {
            let client = cli.open()?;
            let bytes = base64_decode(message)?;
            let text = client.try_decrypt(group, &bytes)?;
            out.value(&serde_json::json!({"text": text}), &text);
            Ok(())
        }
    }
}

fn base64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    // A small standard-alphabet decoder keeps the binary free of another dependency.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for c in text.trim().bytes() {
        if c == b'=' {
            break;
        }
        let value = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or_else(|| anyhow!("not base64: unexpected character {:?}", c as char))?;
        buffer = (buffer << 6) | u32::try_from(value)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff)?);
        }
    }
    Ok(out)
}

/// `--cipher-suite`: a number or a post-quantum suite's draft name.
fn parse_suite(text: &str) -> Result<u16, String> {
    conclave_core::codepoints::parse_cipher_suite(text)
        .map(|suite| suite.0)
        .ok_or_else(|| format!("unknown cipher suite {text:?}: give a number or a draft name"))
}

async fn devnet(
    cli: &Cli,
    out: &Output,
    data: Option<PathBuf>,
    port: u16,
    certificate_lifetime: u64,
    cipher_suite: u16,
) -> anyhow::Result<()> {
    let dir = data.unwrap_or_else(|| cli.devnet_dir());
    let devnet = Devnet::start(&DevnetOptions {
        port,
        certificate_lifetime,
        cipher_suite,
        ..DevnetOptions::new(&dir)
    })
    .await?;
    let url = devnet.info.ds_url.clone();
    let addr = url.trim_start_matches("http://").to_owned();
    // Scripts and tests wait for this line.
    println!("listening on {addr}");
    if !cli.json {
        println!(
            "devnet: DS and AS at {url}, data in {}; clients find it with --devnet {}",
            dir.display(),
            dir.display()
        );
    }
    out.flush();
    tokio::select! {
        result = devnet_wait(devnet) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

async fn devnet_wait(devnet: Devnet) -> anyhow::Result<()> {
    devnet.wait().await?;
    Ok(())
}

/// The AS and the admin token of an administrator's command: `--as` and `admin_token_file`,
/// else the devnet's.
fn admin(
    cli: &Cli,
    admin_token_file: Option<&std::path::Path>,
) -> anyhow::Result<(AsClient, String)> {
    let info = cli.devnet_info()?;
    let as_url = cli
        .as_url
        .clone()
        .or_else(|| info.as_ref().map(|i| i.as_url.clone()))
        .ok_or_else(|| {
            anyhow!(
                "no Authentication Service given: pass --as URL, or start `conclave devnet` \
                 (its devnet.json is looked for in {})",
                cli.devnet_dir().display()
            )
        })?;
    let admin_token = match (admin_token_file, &info) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the AS admin token file {}", path.display()))?
            .trim()
            .to_owned(),
        (None, Some(info)) => info.admin_token()?,
        (None, None) => bail!(
            "this needs the AS admin token: pass --admin-token-file (the AS's admin token \
             file), or run against a devnet"
        ),
    };
    Ok((AsClient::new(&as_url)?, admin_token))
}

/// The service URLs for a new profile: flags, else the devnet file.
fn service_urls(cli: &Cli) -> anyhow::Result<(String, String, Option<DevnetInfo>)> {
    let info = cli.devnet_info()?;
    let ds = cli
        .ds_url
        .clone()
        .or_else(|| info.as_ref().map(|i| i.ds_url.clone()))
        .ok_or_else(|| {
            anyhow!(
                "no Delivery Service given: pass --ds URL, or start `conclave devnet` (its \
                 devnet.json is looked for in {})",
                cli.devnet_dir().display()
            )
        })?;
    let as_url = cli
        .as_url
        .clone()
        .or_else(|| info.as_ref().map(|i| i.as_url.clone()))
        .unwrap_or_else(|| ds.clone());
    Ok((ds, as_url, info))
}

async fn register(
    cli: &Cli,
    out: &Output,
    name: &str,
    token: Option<&str>,
    credential: CredentialKind,
    partial: bool,
) -> anyhow::Result<()> {
    if !conclave_client::is_valid_name(name) {
        bail!(conclave_client::ClientError::InvalidName(name.to_owned()));
    }
    let (ds, as_url, info) = service_urls(cli)?;
    let token = match token {
        Some(t) => t.to_owned(),
        None => {
            let info = info.ok_or_else(|| {
                anyhow!(
                    "an enrolment token is needed: pass --token (ask the AS administrator), \
                     or run against a devnet whose admin token can mint one"
                )
            })?;
            let token = AsClient::new(&as_url)?
                .issue_token(&info.admin_token()?, name)
                .await?;
            out.note(&format!(
                "minted an enrolment token for {name} with the devnet's admin token"
            ));
            token
        }
    };
    let client = Client::register(
        &cli.home(),
        &ds,
        &as_url,
        name,
        &token,
        ClientOptions {
            credential,
            partial,
            ..cli.client_options()
        },
    )
    .await?;
    let kind = match credential {
        CredentialKind::UserInfoVc => "UserInfo VC",
        _ => "X.509 certificate",
    };
    let member = if partial {
        "; a partial member: no ratchet tree, see draft-ietf-mls-partial-02"
    } else {
        ""
    };
    out.value(
        &serde_json::json!({
            "registered": client.name(),
            "identity": format!("mls://{}", client.name()),
            "credential": kind,
            "partial": partial,
            "ds": client.ds_url(),
            "as": client.as_url(),
            "home": cli.home(),
        }),
        &format!(
            "registered {} ({kind} for mls://{} from the AS; KeyPackages published{member})",
            client.name(),
            client.name()
        ),
    );
    Ok(())
}

async fn group(cli: &Cli, out: &Output, command: &GroupCommand) -> anyhow::Result<()> {
    let mut client = cli.open()?;
    match command {
        GroupCommand::Create {
            name,
            handshakes,
            policy,
            tree_on_ds,
            allow_external_joins,
        } => {
            let summary = client
                .create_group_with_options(
                    name,
                    &conclave_client::NewGroupOptions {
                        handshakes: *handshakes,
                        policy: *policy,
                        tree_on_ds: *tree_on_ds,
                        allow_external_joins: *allow_external_joins,
                    },
                )
                .await?;
            let roles = policy.map_or_else(String::new, |p| format!(", {p} roles"));
            let tree = if summary.tree_on_ds {
                ", ratchet tree on the DS"
            } else {
                ""
            };
            out.value(
                &serde_json::to_value(&summary)?,
                &format!(
                    "created group {} (epoch {}, {} handshakes{roles}{tree})",
                    summary.name, summary.epoch, summary.handshakes
                ),
            );
        }
        GroupCommand::Role { group, user, role } => {
            roles(&mut client, out, group, user.as_deref(), role.as_deref()).await?;
        }
        GroupCommand::Add {
            group,
            invitation: Some(link),
            ..
        } => {
            let user = client.add_invited(group, link).await?;
            let summary = client.group(group)?;
            out.value(
                &serde_json::json!({"group": group, "added": [user], "epoch": summary.epoch}),
                &format!(
                    "added {user} to {group} (epoch {}) from their invitation",
                    summary.epoch
                ),
            );
        }
        GroupCommand::Add { group, users, .. } => {
            let bar = out.progress_bar();
            if let Some(bar) = bar.clone() {
                client.set_progress(move |p| {
                    bar.set_length(p.total.max(1));
                    bar.set_position(p.done);
                    bar.set_message(p.stage);
                });
            }
            let printer = *out;
            client.set_observer(move |e| {
                if !matches!(e, Event::Membership { .. }) {
                    printer.event(e);
                }
            });
            let added = client.add_members(group, users).await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let added = added?;
            let summary = client.group(group)?;
            let skipped: Vec<&String> = users.iter().filter(|u| !added.contains(u)).collect();
            let mut text = if added.is_empty() {
                format!("nobody added to {group}")
            } else {
                format!(
                    "added {} to {group} (epoch {})",
                    added.join(", "),
                    summary.epoch
                )
            };
            if !skipped.is_empty() {
                text.push_str(&format!(
                    "; already members: {}",
                    skipped
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            out.value(
                &serde_json::json!({"group": group, "added": added, "epoch": summary.epoch, "members": summary.members}),
                &text,
            );
        }
        GroupCommand::Remove { group, users } => {
            let removed = client.remove_members(group, users).await?;
            let summary = client.group(group)?;
            out.value(
                &serde_json::json!({"group": group, "removed": removed, "epoch": summary.epoch, "members": summary.members}),
                &format!(
                    "removed {} from {group} (epoch {})",
                    removed.join(", "),
                    summary.epoch
                ),
            );
        }
        GroupCommand::Join { group_id, name } => {
            let id = hex::decode(group_id).map_err(|e| {
                anyhow::anyhow!("the group id is hex, as `group list --json` shows it: {e}")
            })?;
            let summary = client.join_external(&id, name).await?;
            out.value(
                &serde_json::to_value(&summary)?,
                &format!(
                    "joined {} by an external commit (epoch {}; members: {})",
                    summary.name,
                    summary.epoch,
                    summary.members.join(", ")
                ),
            );
        }
        GroupCommand::Update { group } => {
            let epoch = client.update_keys(group).await?;
            out.value(
                &serde_json::json!({"group": group, "epoch": epoch}),
                &format!("updated your keys in {group} (epoch {epoch})"),
            );
        }
        GroupCommand::Leave { group } => {
            let mechanism = client.leave(group).await?;
            let text = match mechanism {
                LeaveMechanism::SelfRemove => format!(
                    "left {group} with a SelfRemove proposal; the next commit by any member \
                     removes you"
                ),
                LeaveMechanism::RemoveProposal => format!(
                    "left {group} with a Remove proposal (a member does not support \
                     SelfRemove); the next member to sync commits your removal"
                ),
                LeaveMechanism::LastMember => format!("left {group}; you were the last member"),
            };
            out.value(
                &serde_json::json!({"group": group, "left": true, "mechanism": mechanism}),
                &text,
            );
        }
        GroupCommand::Topic { group, text, clear } => {
            topic(&mut client, out, group, text.as_deref(), *clear).await?;
        }
        GroupCommand::List => {
            let groups = client.groups()?;
            out.groups(&groups);
        }
    }
    Ok(())
}

/// `conclave group role`: shows the roles, or gives a user a role.
async fn roles(
    client: &mut Client,
    out: &Output,
    group: &str,
    user: Option<&str>,
    role: Option<&str>,
) -> anyhow::Result<()> {
    if let (Some(user), Some(role)) = (user, role) {
        let changed = client.set_role(group, user, role).await?;
        let epoch = client.group(group)?.epoch;
        let text = if changed {
            format!("{user} is now {role} in {group} (epoch {epoch})")
        } else {
            format!("{user} is {role} in {group} already")
        };
        out.value(
            &serde_json::json!({"group": group, "user": user, "role": role, "changed": changed, "epoch": epoch}),
            &text,
        );
        return Ok(());
    }
    let roles = client.roles(group)?;
    let text = match &roles {
        None => format!("{group} has no roles (created without --policy)"),
        Some(list) => list
            .iter()
            .map(|(user, role)| format!("{user}: {role}"))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let value: Option<serde_json::Map<String, serde_json::Value>> = roles.map(|list| {
        list.into_iter()
            .map(|(user, role)| (user, serde_json::Value::String(role)))
            .collect()
    });
    out.value(&serde_json::json!({"group": group, "roles": value}), &text);
    Ok(())
}

/// `conclave group topic`: shows, sets or clears the group topic.
async fn topic(
    client: &mut Client,
    out: &Output,
    group: &str,
    text: Option<&str>,
    clear: bool,
) -> anyhow::Result<()> {
    let quoted = |t: &str| format!("{t:?}");
    if text.is_none() && !clear {
        let topic = client.topic(group)?;
        let shown = topic
            .as_deref()
            .map_or_else(|| "no topic".to_owned(), quoted);
        out.value(
            &serde_json::json!({"group": group, "topic": topic}),
            &format!("{group}: {shown}"),
        );
        return Ok(());
    }
    if text == Some("") {
        bail!("the topic is empty: give some text, or use --clear to remove the topic");
    }
    let changed = client.set_topic(group, text).await?;
    let summary = client.group(group)?;
    let said = match (text, changed) {
        (Some(t), true) => format!(
            "set the topic of {group} to {} (epoch {})",
            quoted(t),
            summary.epoch
        ),
        (Some(t), false) => format!("the topic of {group} is {} already", quoted(t)),
        (None, true) => format!("cleared the topic of {group} (epoch {})", summary.epoch),
        (None, false) => format!("{group} has no topic already"),
    };
    out.value(
        &serde_json::json!({"group": group, "topic": summary.topic, "changed": changed, "epoch": summary.epoch}),
        &said,
    );
    Ok(())
}

async fn send(cli: &Cli, out: &Output, group: &str, text: &str) -> anyhow::Result<()> {
    let mut client = cli.open()?;
    let printer = *out;
    client.set_observer(move |e| {
        if !matches!(e, Event::KeyPackagesPublished { .. }) {
            printer.event(e);
        }
    });
    if text == "-" {
        let mut count = 0u64;
        let stdin = std::io::stdin();
        let mut line = String::new();
        loop {
            line.clear();
            let read = std::io::BufRead::read_line(&mut stdin.lock(), &mut line)
                .context("reading standard input")?;
            if read == 0 {
                break;
            }
            let message = line.trim_end_matches(['\n', '\r']);
            if message.is_empty() {
                continue;
            }
            client.send(group, message).await?;
            count += 1;
        }
        out.value(
            &serde_json::json!({"group": group, "sent": count}),
            &format!("sent {count} messages to {group}"),
        );
    } else {
        let seq = client.send(group, text).await?;
        out.value(
            &serde_json::json!({"group": group, "seq": seq, "text": text}),
            &format!("sent to {group}"),
        );
    }
    Ok(())
}

/// `conclave send <group> --to <user> <text>`: a private aside to one member of the group
/// (a targeted message, draft-ietf-mls-targeted-messages).
async fn send_to(
    cli: &Cli,
    out: &Output,
    group: &str,
    user: &str,
    text: &str,
) -> anyhow::Result<()> {
    let mut client = cli.open()?;
    let printer = *out;
    client.set_observer(move |e| {
        if !matches!(e, Event::KeyPackagesPublished { .. }) {
            printer.event(e);
        }
    });
    let seq = client.send_to(group, user, text).await?;
    out.value(
        &serde_json::json!({"group": group, "seq": seq, "to": user, "text": text}),
        &format!("sent privately to {user} in {group}"),
    );
    Ok(())
}
