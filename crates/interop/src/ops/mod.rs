//! The MLS side of the harness operations: [`State`], what the server holds, and one
//! submodule per group of `mls_client.MLSClient` operations, each an `impl State` block whose
//! methods take the request message and return the response message of the operation of the
//! same name. They run on [`conclave_core::group`] with the system clock
//! ([`crate::clock::unix_now`]) and OS randomness ([`crate::rng::OsRandom`]).
//!
//! Conventions shared by all operations:
//! - credentials are Basic (RFC 9420 §5.3) with the actor's name as identity, and a Remove
//!   names the removed member by that identity;
//! - `encrypt_handshake` selects PrivateMessage (true) or PublicMessage (false) for our
//!   proposals and commits (RFC 9420 §6);
//! - external PSKs given by `StorePSK` (or with an external join) go to one store shared by
//!   all states of this server (RFC 9420 §8.4: a PSK is found by its id).

mod branch;
mod commits;
mod external;
mod group_state;
mod membership;
mod proposals;
mod reinit;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams,
    SigningIdentity,
};
use conclave_core::messages::{Credential, Welcome, WireFormat};
use conclave_crypto::{CipherSuite, Secret};

use crate::clock::unix_now;
use crate::error::{InteropError, Result};
use crate::provider::InteropProvider;
use crate::registry::{Handle, PendingJoin, Registry};
use crate::rng::OsRandom;
use crate::wire::{decode_tree, decode_welcome};

/// Everything the server holds: the protocol environment, the external PSKs and the handles.
pub(crate) struct State {
    env: GroupEnv,
    /// The same store as `env.psks`, kept typed so that `StorePSK` can write to it.
    psks: Arc<RwLock<HashMap<Vec<u8>, Secret>>>,
    registry: Registry,
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

/// The private keys of a new KeyPackage, which the harness gets back with it
/// (`CreateKeyPackage`, `NewMemberAddProposal`).
struct KeyPackageSecrets {
    init_priv: Vec<u8>,
    encryption_priv: Vec<u8>,
    signature_priv: Vec<u8>,
}

impl State {
    /// No handles, no PSKs, every suite of [`InteropProvider`], Basic credentials.
    pub(crate) fn new() -> Self {
        let psks = Arc::new(RwLock::new(HashMap::new()));
        let env = GroupEnv {
            crypto: Arc::new(InteropProvider),
            identity: Arc::new(BasicIdentityProvider),
            psks: psks.clone(),
        };
        Self {
            env,
            psks,
            registry: Registry::new(),
        }
    }

    /// A fresh signature key pair with a Basic credential for `identity`.
    fn new_signer(&self, suite: CipherSuite, identity: &[u8]) -> Result<SigningIdentity> {
        let cs = self.env.suite(suite)?;
        let credential = Credential::Basic {
            identity: identity.to_vec(),
        };
        Ok(SigningIdentity::generate(
            cs.as_ref(),
            credential,
            &mut OsRandom,
        )?)
    }

    /// A fresh identity and a KeyPackage for it (RFC 9420 §10).
    fn new_key_package(
        &self,
        suite: CipherSuite,
        identity: &[u8],
    ) -> Result<(SigningIdentity, KeyPackageBundle)> {
        let signer = self.new_signer(suite, identity)?;
        let bundle = KeyPackageBundle::generate(
            &MemberParams::new(self.env.clone(), signer.clone()),
            suite,
            unix_now(),
            &mut OsRandom,
        )?;
        Ok((signer, bundle))
    }

    /// Keeps a KeyPackage until its Welcome arrives; returns the transaction id and the
    /// private keys to report.
    fn insert_pending_join(
        &mut self,
        signer: SigningIdentity,
        bundle: KeyPackageBundle,
    ) -> Result<(u32, KeyPackageSecrets)> {
        let secrets = KeyPackageSecrets {
            init_priv: bundle.init_private_key.as_bytes().to_vec(),
            encryption_priv: bundle.encryption_private_key.as_bytes().to_vec(),
            signature_priv: signer.secret_key.as_bytes().to_vec(),
        };
        let id = self
            .registry
            .insert(Handle::Transaction(Box::new(PendingJoin {
                signer,
                bundle,
            })))?;
        Ok((id, secrets))
    }

    /// Keeps a new group state; returns its id and epoch authenticator (RFC 9420 §8.7), which
    /// is what every operation creating a state reports.
    fn insert_member(&mut self, group: Group) -> Result<(u32, Vec<u8>)> {
        let epoch_authenticator = group.epoch_authenticator().to_vec();
        let state_id = self.registry.insert(Handle::Member(Box::new(group)))?;
        Ok((state_id, epoch_authenticator))
    }

    /// Adds an external PSK to the store shared by all states (RFC 9420 §8.4).
    fn store_psk_secret(&self, psk_id: &[u8], secret: &[u8]) -> Result<()> {
        let mut psks = self.psks.write().map_err(|_| InteropError::Poisoned)?;
        psks.insert(psk_id.to_vec(), Secret::new(secret.to_vec()));
        Ok(())
    }
}

/// The group configuration a request asks for: only the handshake wire format varies.
fn group_config(encrypt_handshake: bool) -> GroupConfig {
    GroupConfig {
        handshake_wire_format: if encrypt_handshake {
            WireFormat::PRIVATE_MESSAGE
        } else {
            WireFormat::PUBLIC_MESSAGE
        },
        ..GroupConfig::default()
    }
}

/// The Welcome of a join request and the options to process it with: the ratchet tree is
/// the out-of-band one, if given (RFC 9420 §12.4.3.3).
fn welcome_join(welcome: &[u8], ratchet_tree: &[u8]) -> Result<(Welcome, JoinOptions)> {
    let welcome = decode_welcome(welcome)?;
    let options = JoinOptions {
        ratchet_tree: decode_tree(ratchet_tree)?,
        ..JoinOptions::default()
    };
    Ok((welcome, options))
}

/// Commit options for a request's `force_path` and `external_tree`: a tree sent out of band
/// is left out of the GroupInfo in the Welcome (RFC 9420 §12.4.3.3).
fn commit_options(force_path: bool, external_tree: bool) -> CommitOptions {
    CommitOptions {
        force_path,
        ratchet_tree_in_group_info: !external_tree,
        ..CommitOptions::default()
    }
}
