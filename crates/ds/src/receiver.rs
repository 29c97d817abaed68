//! The Delivery Service as an external receiver of semi-private handshakes
//! (draft-mahy-mls-semiprivatemessage-07): one HPKE key pair per cipher suite (the key
//! depends on the suite's KEM), generated the first time a suite is asked for and kept in
//! the store, so that every DS node on one database holds the same key; the `ExternalReceiver`
//! it publishes (`GET /v1/ds/external-receiver?cipher_suite=N`) names the DS with a basic
//! credential ([`crate::DsConfig::receiver_identity`]). Groups list it in their
//! `external_receivers` component; [`AppState::open_semi_private`] then opens their
//! handshakes.
//!
//! The private key lives in the store (a secret of the database, like the tokens' hashes are
//! not) and in memory as a [`Secret`] (zeroized on drop, redacted in `Debug`).

use std::sync::Arc;

use conclave_codec::{Decode, Encode};
use conclave_core::messages::{Credential, ExternalReceiver, HpkePublicKey, SemiPrivateMessage};
use conclave_core::semi_private::{OpenedHandshake, open_as_external_receiver};
use conclave_crypto::{Secret, hpke};

use crate::error::DsError;
use crate::state::AppState;
use crate::store::ReceiverKey;

/// The DS's external-receiver identity for one cipher suite.
#[derive(Debug)]
pub struct DsReceiver {
    /// The suite.
    pub cipher_suite: u16,
    /// What groups list in their `external_receivers` (draft-mahy-mls-semiprivatemessage-07
    /// §3).
    pub receiver: ExternalReceiver,
    /// Its TLS encoding, as served.
    pub encoded: Vec<u8>,
    private_key: Secret,
}

impl DsReceiver {
    fn from_record(record: ReceiverKey) -> Result<Self, DsError> {
        let receiver = ExternalReceiver::from_bytes(&record.receiver).map_err(|e| {
            DsError::Internal(format!("stored external receiver does not decode: {e}"))
        })?;
        Ok(Self {
            cipher_suite: record.cipher_suite,
            receiver,
            encoded: record.receiver,
            private_key: record.private_key,
        })
    }
}

impl DsReceiver {
    /// Opens a semi-private handshake with this key (draft-mahy-mls-semiprivatemessage-07
    /// §3.3). The result still has to be verified against the group's context and the
    /// sender's leaf; a message the DS cannot open is a 400 naming the rule.
    pub(crate) fn open(
        &self,
        cs: &dyn conclave_crypto::CipherSuiteProvider,
        message: &SemiPrivateMessage,
    ) -> Result<OpenedHandshake, DsError> {
        open_as_external_receiver(cs, self.private_key.as_bytes(), &self.receiver, message)
            .map_err(|e| DsError::BadRequest(format!("semi-private handshake: {e}")))
    }
}

impl AppState {
    /// The DS's external receiver for `cipher_suite`: from memory, else from the store, else
    /// a fresh key pair stored for every node (the first node to store one wins). A suite
    /// the crypto backend does not implement is a 400.
    pub async fn external_receiver(&self, cipher_suite: u16) -> Result<Arc<DsReceiver>, DsError> {
        let poisoned = || DsError::Internal("receiver key cache lock poisoned".into());
        if let Some(found) = self
            .receivers
            .lock()
            .map_err(|_| poisoned())?
            .get(&cipher_suite)
        {
            return Ok(found.clone());
        }
        let cs = self.suite(cipher_suite)?;
        let pair = hpke::generate_key_pair(cs.as_ref(), &mut conclave_service::OsRandom)
            .map_err(|e| DsError::Internal(format!("HPKE key generation failed: {e}")))?;
        let receiver = ExternalReceiver {
            external_receiver_public_key: HpkePublicKey(pair.public_key),
            credential: Credential::Basic {
                identity: self.config.receiver_identity.clone(),
            },
        };
        let candidate = ReceiverKey {
            cipher_suite,
            receiver: receiver
                .to_bytes()
                .map_err(|e| DsError::Internal(format!("encoding the receiver: {e}")))?,
            private_key: pair.secret_key,
            created_at: self.now(),
        };
        let stored = Arc::new(DsReceiver::from_record(
            self.store.receiver_key(&candidate).await?,
        )?);
        self.receivers
            .lock()
            .map_err(|_| poisoned())?
            .insert(cipher_suite, stored.clone());
        Ok(stored)
    }

    /// Opens a semi-private handshake of a group of `cipher_suite` with the DS's key
    /// (draft-mahy-mls-semiprivatemessage-07 §3.3). The result still has to be verified
    /// against the group's context and the sender's leaf ([`OpenedHandshake::verify`]); a
    /// message the DS cannot open is a 400 naming the rule.
    pub async fn open_semi_private(
        &self,
        cipher_suite: u16,
        message: &SemiPrivateMessage,
    ) -> Result<OpenedHandshake, DsError> {
        let receiver = self.external_receiver(cipher_suite).await?;
        let cs = self.suite(cipher_suite)?;
        receiver.open(cs.as_ref(), message)
    }
}
