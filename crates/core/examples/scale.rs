//! Times the large-group operations: `cargo run --release -p conclave-core --example scale -- 10000`.
//! One commit adds N-1 members, one joins from the Welcome, one commits an update that
//! another member processes, then one remove.

// A measuring tool, not an input path: indexing the vectors it built itself is fine.
#![allow(clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Instant;

use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams, NewGroup,
    SigningIdentity,
};
use conclave_core::messages::{Add, Credential, MlsMessageBody, Proposal, Remove};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let provider: Arc<dyn CryptoProvider> = match std::env::args().nth(2).as_deref() {
        Some("rustcrypto") => Arc::new(conclave_crypto_rustcrypto::RustCryptoProvider),
        _ => Arc::new(conclave_crypto_awslc::AwsLcProvider),
    };
    let env = GroupEnv {
        crypto: provider.clone(),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(()),
    };
    let suite = CipherSuite(1);
    let cs = provider.cipher_suite_provider(suite).ok_or("suite")?;
    let mut rng = SeededRng::new(1);
    let now = 1_700_000_000;
    let ident = |name: String, rng: &mut SeededRng| {
        SigningIdentity::generate(
            cs.as_ref(),
            Credential::Basic {
                identity: name.into_bytes(),
            },
            rng,
        )
    };
    let t = Instant::now();
    let mut bundles = Vec::with_capacity(n);
    let mut signers = Vec::with_capacity(n);
    for i in 1..n {
        let signer = ident(format!("member-{i}"), &mut rng)?;
        bundles.push(KeyPackageBundle::generate(
            &MemberParams::new(env.clone(), signer.clone()),
            suite,
            now,
            &mut rng,
        )?);
        signers.push(signer);
    }
    println!("generate {} key packages: {:?}", n - 1, t.elapsed());
    let mut alice = Group::create(
        MemberParams::new(env.clone(), ident("alice".into(), &mut rng)?),
        NewGroup::new(suite, b"scale".to_vec()),
        now,
        &mut rng,
    )?;
    let options = CommitOptions {
        proposals: bundles
            .iter()
            .map(|b| {
                Proposal::Add(Add {
                    key_package: b.key_package.clone(),
                })
            })
            .collect(),
        ..CommitOptions::default()
    };
    let t = Instant::now();
    let output = alice.commit(&options, now, &mut rng)?;
    alice.merge_pending_commit()?;
    println!("add_commit_create N={n}: {:?}", t.elapsed());
    let welcome = match output.welcome.map(|w| w.body) {
        Some(MlsMessageBody::Welcome(w)) => w,
        _ => return Err("no welcome".into()),
    };
    println!(
        "welcome size: {} bytes",
        conclave_codec::Encode::encoded_len(&welcome)
    );
    let t = Instant::now();
    let mut bob = Group::join(
        MemberParams::new(env.clone(), signers[0].clone()),
        &welcome,
        &bundles[0],
        &JoinOptions::default(),
        now,
    )?;
    println!("welcome_join N={n}: {:?}", t.elapsed());
    let mut carol = Group::join(
        MemberParams::new(env.clone(), signers[n / 2].clone()),
        &welcome,
        &bundles[n / 2],
        &JoinOptions::default(),
        now,
    )?;
    // `SCALE_PROCESS_REPEAT=k`: process one update commit k times from bytes, each time on
    // carol's reloaded state, so that a profiler sees mostly commit processing.
    if let Some(repeat) = std::env::var("SCALE_PROCESS_REPEAT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let saved = carol.to_bytes()?;
        let update = bob.commit(&CommitOptions::default(), now, &mut rng)?;
        let bytes = conclave_codec::Encode::to_bytes(&update.commit)?;
        let mut times = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let mut reloaded = Group::from_bytes(env.clone(), &saved)?;
            let t = Instant::now();
            let parsed =
                <conclave_core::messages::MlsMessage as conclave_codec::Decode>::from_bytes(
                    &bytes,
                )?;
            reloaded.process_message(&parsed, now)?;
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "update_commit_process from bytes, median of {repeat}: {:?}",
            times[repeat / 2]
        );
        return Ok(());
    }
    // `SCALE_PROCESS_SEQUENCE=k`: k update commits by bob, each processed from bytes by
    // carol in memory (past epochs rolling over), for a profiler.
    if let Some(count) = std::env::var("SCALE_PROCESS_SEQUENCE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut times = Vec::with_capacity(count);
        for _ in 0..count {
            let update = bob.commit(&CommitOptions::default(), now, &mut rng)?;
            bob.merge_pending_commit()?;
            let bytes = conclave_codec::Encode::to_bytes(&update.commit)?;
            let t = Instant::now();
            let parsed =
                <conclave_core::messages::MlsMessage as conclave_codec::Decode>::from_bytes(
                    &bytes,
                )?;
            carol.process_message(&parsed, now)?;
            drop(parsed);
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "update_commit_process in memory, median of {count}: {:?}",
            times[count / 2]
        );
        return Ok(());
    }
    for round in 0..3 {
        let t = Instant::now();
        let update = bob.commit(&CommitOptions::default(), now, &mut rng)?;
        bob.merge_pending_commit()?;
        let created = t.elapsed();
        let bytes = conclave_codec::Encode::to_bytes(&update.commit)?;
        let t = Instant::now();
        let parsed =
            <conclave_core::messages::MlsMessage as conclave_codec::Decode>::from_bytes(&bytes)?;
        let decoded = t.elapsed();
        carol.process_message(&parsed, now)?;
        let processed = t.elapsed();
        drop(parsed);
        let dropped = t.elapsed();
        alice.process_message(&update.commit, now)?;
        println!(
            "update_commit round {round}: create {created:?} / process from bytes {dropped:?} \
             (decode {decoded:?}, process {:?}, drop the message {:?})",
            processed - decoded,
            dropped - processed
        );
    }
    let t = Instant::now();
    let remove = alice.commit(
        &CommitOptions {
            proposals: vec![Proposal::Remove(Remove {
                removed: carol.own_leaf(),
            })],
            ..CommitOptions::default()
        },
        now,
        &mut rng,
    )?;
    alice.merge_pending_commit()?;
    let created = t.elapsed();
    let t = Instant::now();
    bob.process_message(&remove.commit, now)?;
    println!(
        "remove_commit: create {created:?} / process {:?}",
        t.elapsed()
    );
    let payload = vec![0x42u8; 100];
    let t = Instant::now();
    for _ in 0..1000 {
        let message = bob.encrypt_application_message(&payload, &[], &mut rng)?;
        let bytes = conclave_codec::Encode::to_bytes(&message)?;
        let parsed =
            <conclave_core::messages::MlsMessage as conclave_codec::Decode>::from_bytes(&bytes)?;
        alice.process_message(&parsed, now)?;
    }
    println!(
        "app_100B_roundtrip: {:.0} msg/s",
        1000.0 / t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let state = bob.to_bytes()?;
    let ser = t.elapsed();
    let t = Instant::now();
    let _ = Group::from_bytes(env, &state)?;
    println!(
        "group_state_size: {} bytes (store {ser:?}, load {:?})",
        state.len(),
        t.elapsed()
    );
    assert_eq!(alice.epoch_authenticator(), bob.epoch_authenticator());
    Ok(())
}
