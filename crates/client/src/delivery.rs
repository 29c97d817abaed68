//! What the sync driver needs from the Delivery Service (RFC 9750 §5-§6), as a trait: read a
//! group's log, post commits and messages, claim KeyPackages, read and acknowledge the
//! Welcome inbox. [`conclave_api::DsClient`] implements it over HTTP; tests implement it in
//! memory (a simulated DS that reorders, duplicates and loses answers).
//!
//! The DS's rules the client relies on (RFC 9750 §5.2 "Strongly Consistent"): the log is
//! totally ordered with sequence numbers 1, 2, … without gaps; the DS accepts one commit
//! per epoch and messages for the current epoch only, answering anything else with
//! [`ApiError::WrongEpoch`].

use std::future::Future;

use conclave_api::delivery::{Accepted, CommitBundle, LogEntryView, WelcomeView};
use conclave_api::ds_client::ClaimedKeyPackage;
use conclave_api::{ApiError, DsClient};
use conclave_core::messages::{MlsMessage, RatchetTreeNodes};
use conclave_crypto::CipherSuite;

/// The Delivery Service operations of the sync driver.
pub trait DeliveryService: Send + Sync {
    /// Log entries of `group_id` after `after`, in order, at most `limit`.
    fn read_log(
        &self,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<LogEntryView>, ApiError>> + Send;

    /// Posts a commit with its Welcome and GroupInfo; `Err(WrongEpoch)` when another commit
    /// won the epoch (RFC 9750 §5.2).
    fn post_commit(
        &self,
        group_id: &[u8],
        bundle: &CommitBundle,
    ) -> impl Future<Output = Result<Accepted, ApiError>> + Send;

    /// Posts an application message or a proposal for the current epoch.
    fn post_message(
        &self,
        group_id: &[u8],
        message: &MlsMessage,
    ) -> impl Future<Output = Result<Accepted, ApiError>> + Send;

    /// Posts a targeted message (draft-ietf-mls-targeted-messages) for the member
    /// `recipient` (its client id); the DS shows it to that member and the sender only.
    fn post_targeted_message(
        &self,
        group_id: &[u8],
        message: &MlsMessage,
        recipient: &str,
    ) -> impl Future<Output = Result<Accepted, ApiError>> + Send;

    /// Claims one KeyPackage of `client_id` for `suite` (RFC 9750 §5.1) to add them to
    /// `group_id` (a package bound to another group by its `kp_context` is never served).
    fn claim_key_package(
        &self,
        client_id: &str,
        suite: CipherSuite,
        group_id: &[u8],
    ) -> impl Future<Output = Result<ClaimedKeyPackage, ApiError>> + Send;

    /// Welcomes in our inbox after `after`.
    fn welcomes(
        &self,
        after: u64,
    ) -> impl Future<Output = Result<Vec<WelcomeView>, ApiError>> + Send;

    /// Deletes Welcomes up to `up_to` from the inbox.
    fn ack_welcomes(&self, up_to: u64) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// The group's current ratchet tree, for a group whose GroupInfos say the DS holds it
    /// (draft-ietf-mls-ratchet-tree-options-00 §3 `distributionService`); the joiner checks
    /// it against the tree hash (RFC 9420 §12.4.3.1).
    fn ratchet_tree(
        &self,
        group_id: &[u8],
    ) -> impl Future<Output = Result<RatchetTreeNodes, ApiError>> + Send;
}

impl DeliveryService for DsClient {
    fn read_log(
        &self,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<LogEntryView>, ApiError>> + Send {
        DsClient::read_log(self, group_id, after, limit)
    }

    fn post_commit(
        &self,
        group_id: &[u8],
        bundle: &CommitBundle,
    ) -> impl Future<Output = Result<Accepted, ApiError>> + Send {
        DsClient::post_commit(self, group_id, bundle)
    }

    fn post_message(
        &self,
        group_id: &[u8],
        message: &MlsMessage,
    ) -> impl Future<Output = Result<Accepted, ApiError>> + Send {
        DsClient::post_message(self, group_id, message)
    }

    fn post_targeted_message(
        &self,
        group_id: &[u8],
        message: &MlsMessage,
        recipient: &str,
    ) -> impl Future<Output = Result<Accepted, ApiError>> + Send {
        DsClient::post_targeted_message(self, group_id, message, recipient)
    }

    fn claim_key_package(
        &self,
        client_id: &str,
        suite: CipherSuite,
        group_id: &[u8],
    ) -> impl Future<Output = Result<ClaimedKeyPackage, ApiError>> + Send {
        DsClient::claim_key_package_for(self, client_id, suite, Some(group_id))
    }

    fn welcomes(
        &self,
        after: u64,
    ) -> impl Future<Output = Result<Vec<WelcomeView>, ApiError>> + Send {
        DsClient::welcomes(self, after)
    }

    fn ack_welcomes(&self, up_to: u64) -> impl Future<Output = Result<(), ApiError>> + Send {
        DsClient::ack_welcomes(self, up_to)
    }

    fn ratchet_tree(
        &self,
        group_id: &[u8],
    ) -> impl Future<Output = Result<RatchetTreeNodes, ApiError>> + Send {
        DsClient::ratchet_tree(self, group_id)
    }
}
