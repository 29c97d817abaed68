//! KeyPackages (RFC 9420 §10; RFC 9750 §5.1): generated with their private keys stored
//! first, then published, so that a Welcome can never arrive for a package whose keys we
//! lack; the DS is kept stocked with one-time packages, and a last-resort package is
//! published again once it was handed out.

use conclave_api::authentication::certificate_validity;
use conclave_codec::Encode as _;
use conclave_core::group::{KeyPackageBundle, LeafOptions, MemberParams};
use conclave_core::messages::{MlsMessage, MlsMessageBody, ProtocolVersion};
use conclave_crypto::labels;

use super::Client;
use crate::OsRandom;
use crate::driver::commit::crypto_suite;
use crate::driver::leaf_options;
use crate::error::ClientError;
use crate::event::Event;
use crate::store::StoredKeyPackage;

impl Client {
    /// Generates `count` KeyPackages (RFC 9420 §10), stores their private keys, then
    /// publishes them.
    async fn publish_key_packages(
        &mut self,
        count: u64,
        last_resort: bool,
    ) -> Result<(), ClientError> {
        let suite = self.suite();
        let cs = crypto_suite(self.options.crypto.as_ref(), suite)?;
        let signer = self.driver().signer()?;
        let now = self.now();
        // A KeyPackage is good only while its certificate is: the DS stops serving it then.
        let leaf = LeafOptions {
            lifetime_seconds: certificate_validity(&signer.credential)
                .ok()
                .map(|(_, not_after)| not_after.saturating_sub(now)),
            ..leaf_options(suite, self.env.identity.as_ref(), self.options.self_remove)
        };
        // Our leaf lists the topic component in its app_components
        // (draft-ietf-mls-extensions-10 §5.1).
        let member = MemberParams {
            leaf,
            components: crate::topic::components(),
            ..MemberParams::new(self.env.clone(), signer)
        };
        let mut stored = Vec::new();
        let mut messages = Vec::new();
        // A last-resort package carries its marker (draft-ietf-mls-extensions-10 §6.4): the DS
        // and the members adding us read it from the package.
        let generate = if last_resort {
            KeyPackageBundle::generate_last_resort
        } else {
            KeyPackageBundle::generate
        };
        for _ in 0..count {
            let bundle = generate(&member, suite, now, &mut OsRandom)?;
            let encoded = bundle.key_package.to_bytes()?;
            let kp_ref = labels::make_key_package_ref(cs.as_ref(), &encoded)?;
            stored.push(StoredKeyPackage {
                kp_ref,
                cipher_suite: suite.0,
                key_package: encoded,
                init_private: bundle.init_private_key.clone(),
                encryption_private: bundle.encryption_private_key.clone(),
                last_resort,
            });
            messages.push(MlsMessage {
                version: ProtocolVersion::MLS10,
                body: MlsMessageBody::KeyPackage(bundle.key_package),
            });
        }
        // Private keys first: a Welcome may arrive as soon as the DS has the package.
        self.store.put_key_packages(&stored)?;
        self.ds.publish_key_packages(&messages).await?;
        self.emit(&Event::KeyPackagesPublished { count, last_resort });
        Ok(())
    }

    /// Keeps the DS stocked: publishes one-time KeyPackages when fewer than the threshold
    /// are left, and a new last-resort package when there is none or it was handed out
    /// (RFC 9750 §5.1: rotate a used last-resort package).
    pub async fn top_up_key_packages(&mut self) -> Result<(), ClientError> {
        let _lock = self.lock()?;
        self.top_up_inner().await
    }

    pub(super) async fn top_up_inner(&mut self) -> Result<(), ClientError> {
        let stock = self.ds.key_package_stock().await?;
        let mine = stock
            .iter()
            .find(|s| s.cipher_suite == self.profile.cipher_suite);
        let available = mine.map_or(0, |s| s.one_time_available);
        if available < self.options.key_package_threshold {
            let count = self.options.key_packages.saturating_sub(available).max(1);
            self.publish_key_packages(count, false).await?;
        }
        if mine.is_none_or(|s| !s.has_last_resort || s.last_resort_claimed) {
            self.publish_key_packages(1, true).await?;
        }
        Ok(())
    }
}
