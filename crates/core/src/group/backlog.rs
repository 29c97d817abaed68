//! Processing a backlog of application messages at once: what a member that comes back
//! online does with the PrivateMessages that waited for it (RFC 9420 §6.3).
//!
//! The result is that of [`Group::process_message`] on each message in order — the same
//! value or error per message and the same secret-tree state afterwards — but the work is
//! regrouped:
//!
//! 1. per message, independently (in parallel where enabled): the checks made before
//!    decryption (Safe AAD, member proof) and the sender data (RFC 9420 §6.3.2);
//! 2. in order, on a scratch copy of the secret tree: the key and nonce of each message's
//!    generation (§9.1), which only the sender's ratchet, advanced in order, yields;
//! 3. per message, in parallel: the content AEAD with that key (§6.3.1);
//! 4. in order, on the real secret tree: each generation is consumed exactly as one by one
//!    ([`SecretTree::open_generation`]: a key is deleted only if its message decrypted,
//!    §9.2), reusing the decryption of step 3 when the key is the one step 2 derived;
//! 5. the signatures of all decrypted messages (§6.1) as batches, one per thread
//!    ([`CipherSuiteProvider::verify_all`]); a failed batch is checked again one by one so
//!    that the error names its message;
//! 6. per message: the room policy and the application content, as one by one.
//!
//! Only application PrivateMessages of the current epoch go through the pipeline; they
//! change nothing but the secret tree. Any other message (a handshake, a message of a past
//! epoch, a PublicMessage, our pending commit echoed) is processed with
//! [`Group::process_message`] where it stands, so that what it changes applies to the
//! messages after it.
//!
//! One difference from one by one is possible in principle and documented: an Ed25519
//! batch accepts exactly the signatures the cofactored equation accepts (RFC 8032 §5.1.7),
//! while a provider's single verification may use the cofactorless one. The two differ only
//! for signatures crafted with small-order components, which only the holder of the
//! sender's private key can produce; joins batch their leaf signatures under the same rule
//! (`crate::validation::verify_deferred`).

use std::collections::HashMap;

use conclave_crypto::{CipherSuiteProvider, Secret, SignatureToVerify};

use super::{Group, GroupError, ProcessedMessage, member_proof, policy};
use crate::framing::{
    FramingError, PendingSignature, open_private_content, open_sender_data, private_content_aad,
    private_unverified,
};
use crate::messages::{
    ContentType, LeafIndex, MlsMessage, MlsMessageBody, PrivateMessage, ProtocolVersion,
    SenderData, SignaturePublicKey,
};
use crate::secret_tree::{KeyNonce, RatchetType};

/// Signatures per batch at least (a batch is cheaper per signature the larger it is).
const MIN_BATCH: usize = 64;

/// A message of the pipeline after step 1 (short-lived, one per message: the size
/// difference of the variants does not matter).
#[allow(clippy::large_enum_variant)]
enum Opened {
    /// Its outcome is known (an error, or our own message echoed back).
    Done(Result<ProcessedMessage, GroupError>),
    /// Its sender data, for decryption.
    Sender(SenderData),
}

/// A message after step 4.
#[allow(clippy::large_enum_variant)]
enum Decrypted {
    Done(Result<ProcessedMessage, GroupError>),
    /// Decrypted: the signature to check, the sender's key and the generation.
    Pending(PendingSignature<'static>, SignaturePublicKey, u32),
}

impl Group {
    /// Processes `messages` in order, as [`Group::process_message`] would one after the
    /// other, and returns each one's result at its position.
    ///
    /// Application PrivateMessages of the current epoch are decrypted and verified as a
    /// batch (see the module documentation of `group::backlog`): their keys are derived in
    /// order, their AEADs opened in parallel on rayon's pool (feature `parallel`), their
    /// signatures checked in batches (Ed25519: one multi-scalar multiplication per batch).
    /// The results, errors included, and the secret tree afterwards are those of processing
    /// one by one; the thread count changes only the time it takes.
    pub fn process_application_backlog(
        &mut self,
        messages: &[MlsMessage],
        now: u64,
    ) -> Vec<Result<ProcessedMessage, GroupError>> {
        let mut results = Vec::with_capacity(messages.len());
        let mut run: Vec<&PrivateMessage> = Vec::new();
        for message in messages {
            match self.backlog_eligible(message) {
                Some(private) => run.push(private),
                None => {
                    results.extend(self.process_application_run(&run));
                    run.clear();
                    results.push(self.process_message(message, now));
                }
            }
        }
        results.extend(self.process_application_run(&run));
        results
    }

    /// `message` as an application PrivateMessage of the current epoch that may join the
    /// pipeline; `None` for anything [`Group::process_message`] must handle itself.
    fn backlog_eligible<'m>(&self, message: &'m MlsMessage) -> Option<&'m PrivateMessage> {
        if message.version != ProtocolVersion::MLS10 || self.ensure_active().is_err() {
            return None;
        }
        if let Some(pending) = self.pending_commit.as_deref()
            && pending.is_echo_of(message)
        {
            return None;
        }
        match &message.body {
            MlsMessageBody::PrivateMessage(m)
                if m.content_type == ContentType::Application
                    && m.group_id == self.epoch.context.group_id
                    && m.epoch == self.epoch() =>
            {
                Some(m)
            }
            _ => None,
        }
    }

    /// Steps 1–6 on a run of eligible messages.
    fn process_application_run(
        &mut self,
        run: &[&PrivateMessage],
    ) -> Vec<Result<ProcessedMessage, GroupError>> {
        if run.is_empty() {
            return Vec::new();
        }
        let opened = self.open_senders(run);
        let candidates = self.candidate_keys(run, &opened);
        let decrypted = self.consume_keys(run, opened, candidates);
        self.verify_and_finish(decrypted)
    }

    /// Step 1: the checks before decryption and the sender data, as in
    /// `Group::process_encrypted` (RFC 9420 §6.3.2).
    fn open_senders(&self, run: &[&PrivateMessage]) -> Vec<Opened> {
        let cs = self.cs.as_ref();
        let profile = self.config.codepoint_profile;
        let context = &self.epoch.context;
        let proof_key = self.member_proof_public_key();
        let sender_data_secret = self.epoch.secrets.sender_data_secret.as_bytes();
        let own = self.own_leaf();
        let open = |m: &&PrivateMessage| -> Opened {
            let checked = (|| {
                crate::safe::incoming_safe_aad(
                    profile,
                    &context.extensions,
                    &m.authenticated_data,
                )?;
                member_proof::check_incoming(
                    cs,
                    profile,
                    context,
                    proof_key,
                    None,
                    m.content_type,
                    &m.authenticated_data,
                )?;
                Ok::<_, GroupError>(open_sender_data(cs, m, sender_data_secret)?)
            })();
            match checked {
                Err(e) => Opened::Done(Err(e)),
                // We deleted the key when we sent it (RFC 9420 §9.2): our own message.
                Ok(sender) if sender.leaf_index == own => {
                    Opened::Done(Ok(ProcessedMessage::OwnMessage))
                }
                Ok(sender) => Opened::Sender(sender),
            }
        };
        crate::parallel::map(run, open)
    }

    /// Steps 2 and 3: for each message with sender data, the key of its generation derived
    /// on a scratch copy of the secret tree (in order, as if every earlier message had
    /// decrypted), and the content decrypted with it (in parallel). A generation the scratch
    /// tree no longer has (an earlier message of the run had it) reuses the key derived for
    /// it then. `None` where no key was found: step 4 then decides alone.
    fn candidate_keys(
        &self,
        run: &[&PrivateMessage],
        opened: &[Opened],
    ) -> Vec<Option<(KeyNonce, Result<Secret, FramingError>)>> {
        let cs = self.cs.as_ref();
        let mut scratch = self.epoch.secret_tree.clone();
        let mut derived: HashMap<(LeafIndex, u32), KeyNonce> = HashMap::new();
        let size = scratch.size();
        let keys: Vec<Option<KeyNonce>> = opened
            .iter()
            .map(|o| {
                let Opened::Sender(sd) = o else { return None };
                if !size.contains_leaf(sd.leaf_index) {
                    return None;
                }
                let slot = (sd.leaf_index, sd.generation);
                match scratch.key_for_generation(
                    cs,
                    sd.leaf_index,
                    RatchetType::Application,
                    sd.generation,
                ) {
                    Ok(key) => {
                        derived.insert(slot, key.clone());
                        Some(key)
                    }
                    Err(_) => derived.get(&slot).cloned(),
                }
            })
            .collect();
        let jobs: Vec<(&PrivateMessage, Option<KeyNonce>, [u8; 4])> = run
            .iter()
            .zip(opened)
            .zip(keys)
            .map(|((m, o), key)| {
                let guard = match o {
                    Opened::Sender(sd) => sd.reuse_guard,
                    Opened::Done(_) => [0; 4],
                };
                (*m, key, guard)
            })
            .collect();
        let decrypt = |(m, key, guard): &(&PrivateMessage, Option<KeyNonce>, [u8; 4])| {
            key.as_ref().map(|key| {
                let opened = private_content_aad(m)
                    .and_then(|aad| open_private_content(cs, m, &aad, key, *guard));
                (key.clone(), opened)
            })
        };
        crate::parallel::map(&jobs, decrypt)
    }

    /// Step 4: the real secret tree consumes each generation as `unprotect_private` would
    /// (RFC 9420 §6.3.1, §9.2), in order; the content is parsed and its signature prepared.
    fn consume_keys(
        &mut self,
        run: &[&PrivateMessage],
        opened: Vec<Opened>,
        candidates: Vec<Option<(KeyNonce, Result<Secret, FramingError>)>>,
    ) -> Vec<Decrypted> {
        let mut out = Vec::with_capacity(run.len());
        for ((m, o), candidate) in run.iter().zip(opened).zip(candidates) {
            let sd = match o {
                Opened::Done(result) => {
                    out.push(Decrypted::Done(result));
                    continue;
                }
                Opened::Sender(sd) => sd,
            };
            let result = self
                .consume_one(m, &sd, candidate)
                .and_then(|unverified| self.public_state().prepare_verify(unverified));
            out.push(match result {
                Ok((pending, key)) => Decrypted::Pending(pending, key, sd.generation),
                Err(e) => Decrypted::Done(Err(e)),
            });
        }
        out
    }

    /// One message of step 4: `unprotect_private` with the decryption of step 3 when the
    /// key the real tree hands out is the one it used.
    fn consume_one(
        &mut self,
        message: &PrivateMessage,
        sd: &SenderData,
        candidate: Option<(KeyNonce, Result<Secret, FramingError>)>,
    ) -> Result<crate::framing::UnverifiedContent<'static>, GroupError> {
        let cs = self.cs.as_ref();
        let epoch = self.epoch.untracked_mut();
        let size = epoch.secret_tree.size();
        if !size.contains_leaf(sd.leaf_index) {
            return Err(FramingError::SenderLeafOutOfRange {
                leaf: sd.leaf_index.0,
                leaves: size.leaf_count(),
            }
            .into());
        }
        let plaintext = epoch.secret_tree.open_generation(
            cs,
            sd.leaf_index,
            RatchetType::Application,
            sd.generation,
            |key| match candidate {
                Some((derived, opened)) if same_key(&derived, key) => opened,
                _ => private_content_aad(message)
                    .and_then(|aad| open_private_content(cs, message, &aad, key, sd.reuse_guard)),
            },
        )?;
        Ok(private_unverified(
            message,
            sd.leaf_index,
            plaintext.as_bytes(),
        )?)
    }

    /// Steps 5 and 6: the signatures in batches, then the policy and the content.
    fn verify_and_finish(
        &self,
        decrypted: Vec<Decrypted>,
    ) -> Vec<Result<ProcessedMessage, GroupError>> {
        let cs = self.cs.as_ref();
        let pending: Vec<(usize, &PendingSignature<'static>, &SignaturePublicKey)> = decrypted
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match d {
                Decrypted::Pending(p, key, _) => Some((i, p, key)),
                Decrypted::Done(_) => None,
            })
            .collect();
        let valid = verify_batched(cs, &pending);
        let mut valid = valid.into_iter();
        decrypted
            .into_iter()
            .map(|d| match d {
                Decrypted::Done(result) => result,
                Decrypted::Pending(pending, key, generation) => {
                    let verified = if valid.next().unwrap_or(false) {
                        pending.verified()
                    } else {
                        // Not in a valid batch: the one-by-one check names the error.
                        pending.verify(cs, key.as_ref())?
                    };
                    if let crate::messages::Sender::Member(sender) = verified.sender() {
                        self.check_message_capability(sender, policy::MessageRole::Send)?;
                    }
                    self.check_message_capability(self.own_leaf(), policy::MessageRole::Receive)?;
                    super::application_message(
                        verified,
                        self.config.codepoint_profile,
                        &self.epoch.context,
                        Some(generation),
                    )
                }
            })
            .collect()
    }
}

/// Whether two ratchet keys are the same (both derived by us; compared without an early
/// exit all the same).
fn same_key(a: &KeyNonce, b: &KeyNonce) -> bool {
    let diff = |x: &[u8], y: &[u8]| {
        x.len() != y.len() || x.iter().zip(y).fold(0u8, |acc, (p, q)| acc | (p ^ q)) != 0
    };
    a.generation == b.generation
        && !diff(a.key.as_bytes(), b.key.as_bytes())
        && !diff(a.nonce.as_bytes(), b.nonce.as_bytes())
}

/// Whether each signature is known valid from a batch that passed: the signatures split
/// into one batch per thread (at least [`MIN_BATCH`] each), the batches in parallel. A
/// signature of a failed batch gets `false` and is then checked alone by the caller.
fn verify_batched(
    cs: &dyn CipherSuiteProvider,
    pending: &[(usize, &PendingSignature<'static>, &SignaturePublicKey)],
) -> Vec<bool> {
    if pending.is_empty() {
        return Vec::new();
    }
    let chunk = pending
        .len()
        .div_ceil(crate::parallel::threads())
        .max(MIN_BATCH);
    let chunks: Vec<&[(usize, &PendingSignature<'static>, &SignaturePublicKey)]> =
        pending.chunks(chunk).collect();
    let check = |c: &&[(usize, &PendingSignature<'static>, &SignaturePublicKey)]| {
        let items: Vec<SignatureToVerify<'_>> = c
            .iter()
            .map(|(_, p, key)| SignatureToVerify {
                public_key: key.as_ref(),
                message: p.signed_message(),
                signature: p.signature(),
            })
            .collect();
        vec![cs.verify_all(&items).is_ok(); c.len()]
    };
    crate::parallel::map_large(&chunks, check)
        .into_iter()
        .flatten()
        .collect()
}
