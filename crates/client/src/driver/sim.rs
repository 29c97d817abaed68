//! A simulated Delivery Service for the driver tests: in memory, deterministic from a seed,
//! with the real DS's ordering rules (RFC 9750 §5.2: one commit per epoch, messages for the
//! current epoch only, a gap-free log) and injected faults:
//!
//! - pages cut short at random, so that clients see the log at different points (deliveries
//!   to different clients reordered with respect to each other);
//! - pages delivered again: a read answers from before the cursor (duplicates);
//! - a write that succeeds but whose answer is lost (the client gets `Unreachable` and must
//!   settle from the log), and a request lost before it reached the DS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use conclave_api::delivery::{Accepted, CommitBundle, LogEntryView, WelcomeView};
use conclave_api::ds_client::ClaimedKeyPackage;
use conclave_api::{ApiError, Service};
use conclave_core::messages::{MlsMessage, MlsMessageBody, RatchetTreeNodes};
use conclave_crypto::CipherSuite;

use crate::delivery::DeliveryService;

/// Fault rates, in percent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Faults {
    pub(crate) short_page: u64,
    pub(crate) duplicate_page: u64,
    pub(crate) lost_response: u64,
    pub(crate) lost_request: u64,
}

#[derive(Debug, Default)]
struct Log {
    epoch: u64,
    entries: Vec<LogEntryView>,
}

/// Counts of what happened, to check the faults were exercised.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) lost_responses: u64,
    pub(crate) lost_requests: u64,
    pub(crate) duplicate_pages: u64,
    pub(crate) short_pages: u64,
    pub(crate) wrong_epochs: u64,
    /// Log entries at the end (filled in by the test).
    pub(crate) entries: u64,
}

#[derive(Debug)]
struct State {
    rng: u64,
    faults: Faults,
    groups: HashMap<Vec<u8>, Log>,
    counts: Counts,
}

impl State {
    /// xorshift64*: deterministic from the seed.
    fn next(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Whether the fault `rate` picks happens this time.
    fn fault(&mut self, rate: fn(&Faults) -> u64) -> bool {
        let percent = rate(&self.faults);
        self.next() % 100 < percent
    }
}

/// The simulated DS, shared by every client of a test.
#[derive(Debug, Clone)]
pub(crate) struct SimDs {
    state: Arc<Mutex<State>>,
}

/// One client's connection to the [`SimDs`].
#[derive(Debug, Clone)]
pub(crate) struct SimClient {
    ds: SimDs,
    name: String,
}

fn unreachable(what: &str) -> ApiError {
    ApiError::Unreachable {
        service: Service::Delivery,
        url: "sim://ds".into(),
        reason: what.into(),
    }
}

/// The clear header of a PrivateMessage: (epoch, content type).
fn header(message: &MlsMessage) -> (u64, u8) {
    match &message.body {
        MlsMessageBody::PrivateMessage(m) => (m.epoch, m.content_type as u8),
        MlsMessageBody::PublicMessage(m) => (m.content.epoch, m.content.content_type() as u8),
        _ => (u64::MAX, 0),
    }
}

impl SimDs {
    pub(crate) fn new(seed: u64, faults: Faults) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
                faults,
                groups: HashMap::new(),
                counts: Counts::default(),
            })),
        }
    }

    pub(crate) fn create_group(&self, group_id: &[u8], epoch: u64) {
        self.state.lock().unwrap().groups.insert(
            group_id.to_vec(),
            Log {
                epoch,
                entries: Vec::new(),
            },
        );
    }

    pub(crate) fn client(&self, name: &str) -> SimClient {
        SimClient {
            ds: self.clone(),
            name: name.into(),
        }
    }

    /// The group's log and epoch as the DS holds them.
    pub(crate) fn log(&self, group_id: &[u8]) -> (u64, Vec<LogEntryView>) {
        let state = self.state.lock().unwrap();
        let log = &state.groups[group_id];
        (log.epoch, log.entries.clone())
    }

    pub(crate) fn counts(&self) -> Counts {
        self.state.lock().unwrap().counts
    }

    /// Turns the faults off (or on again).
    pub(crate) fn set_faults(&self, faults: Faults) {
        self.state.lock().unwrap().faults = faults;
    }

    /// Posts a message as `client` would, without faults (e.g. a forged commit).
    pub(crate) fn post_raw(
        &self,
        client: &str,
        group_id: &[u8],
        message: &MlsMessage,
        commit: bool,
    ) -> Result<Accepted, ApiError> {
        let faults = std::mem::replace(
            &mut self.state.lock().unwrap().faults,
            Faults {
                short_page: 0,
                duplicate_page: 0,
                lost_response: 0,
                lost_request: 0,
            },
        );
        let result = self.append(client, group_id, message, commit);
        self.set_faults(faults);
        result
    }

    fn append(
        &self,
        client: &str,
        group_id: &[u8],
        message: &MlsMessage,
        commit: bool,
    ) -> Result<Accepted, ApiError> {
        use conclave_codec::Encode as _;
        let mut state = self.state.lock().unwrap();
        if state.fault(|f| f.lost_request) {
            state.counts.lost_requests += 1;
            return Err(unreachable("request lost"));
        }
        let (epoch, content_type) = header(message);
        let log = state.groups.get_mut(group_id).unwrap();
        if epoch != log.epoch || (commit != (content_type == 3)) {
            let current = log.epoch;
            state.counts.wrong_epochs += 1;
            return Err(ApiError::WrongEpoch { current });
        }
        let seq = log.entries.len() as u64 + 1;
        log.entries.push(LogEntryView {
            seq,
            epoch,
            content_type,
            sender: client.into(),
            message: conclave_api::b64_encode(&message.to_bytes().unwrap()),
        });
        if commit {
            log.epoch += 1;
        }
        let accepted = Accepted {
            seq,
            epoch: log.epoch,
        };
        if state.fault(|f| f.lost_response) {
            state.counts.lost_responses += 1;
            return Err(unreachable("response lost after the write"));
        }
        Ok(accepted)
    }
}

impl DeliveryService for SimClient {
    async fn read_log(
        &self,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> Result<Vec<LogEntryView>, ApiError> {
        let mut state = self.ds.state.lock().unwrap();
        let mut from = after;
        if after > 0 && state.fault(|f| f.duplicate_page) {
            state.counts.duplicate_pages += 1;
            from = after - 1 - state.next() % after.min(5);
        }
        let mut limit = u64::from(limit);
        if state.fault(|f| f.short_page) {
            state.counts.short_pages += 1;
            limit = 1 + state.next() % 3;
        }
        let log = &state.groups[group_id];
        Ok(log
            .entries
            .iter()
            .filter(|e| e.seq > from)
            .take(usize::try_from(limit).unwrap())
            .cloned()
            .collect())
    }

    async fn post_commit(
        &self,
        group_id: &[u8],
        bundle: &CommitBundle,
    ) -> Result<Accepted, ApiError> {
        self.ds.append(&self.name, group_id, &bundle.commit, true)
    }

    async fn post_message(
        &self,
        group_id: &[u8],
        message: &MlsMessage,
    ) -> Result<Accepted, ApiError> {
        self.ds.append(&self.name, group_id, message, false)
    }

    async fn post_targeted_message(
        &self,
        _group_id: &[u8],
        _message: &MlsMessage,
        _recipient: &str,
    ) -> Result<Accepted, ApiError> {
        Err(ApiError::Refused {
            service: Service::Delivery,
            what: "a targeted message".into(),
            status: 400,
            code: "bad_request".into(),
            message: "the simulated DS does not route targeted messages".into(),
        })
    }

    async fn claim_key_package(
        &self,
        _client_id: &str,
        _suite: CipherSuite,
        _group_id: &[u8],
    ) -> Result<ClaimedKeyPackage, ApiError> {
        Err(ApiError::Refused {
            service: Service::Delivery,
            what: "a KeyPackage claim".into(),
            status: 404,
            code: "not_found".into(),
            message: "the simulated DS holds no KeyPackages".into(),
        })
    }

    async fn welcomes(&self, _after: u64) -> Result<Vec<WelcomeView>, ApiError> {
        Ok(Vec::new())
    }

    async fn ratchet_tree(&self, _group_id: &[u8]) -> Result<RatchetTreeNodes, ApiError> {
        Err(ApiError::Refused {
            service: Service::Delivery,
            what: "the ratchet tree".into(),
            status: 404,
            code: "not_found".into(),
            message: "the simulated DS follows no tree".into(),
        })
    }

    async fn ack_welcomes(&self, _up_to: u64) -> Result<(), ApiError> {
        Ok(())
    }
}
