//! Roles in a group (draft-ietf-mimi-room-policy-04, [`crate::policy`]): show them, and give
//! a user a role with one commit.

use super::Client;
use crate::driver::commit::Op;
use crate::error::ClientError;

impl Client {
    /// Gives `user` the role named `role` (`member`, `admin`, `banned`, … as the group's
    /// roles name them) with one commit carrying the participant-list update; `banned` and
    /// `none` also remove the user's clients (§8.1.2, §8.1.3). Every member checks that our
    /// role may make the change; a refusal names the missing capability. The group's log is
    /// applied first. Returns whether a commit was made (`false`: the user has that role).
    pub async fn set_role(
        &mut self,
        group: &str,
        user: &str,
        role: &str,
    ) -> Result<bool, ClientError> {
        let _lock = self.lock()?;
        self.refuse_if_partial("change a role (a commit)")?;
        let row = self.require_active(group)?;
        self.driver().sync_group_log(&row.group_id).await?;
        let committed = self
            .driver()
            .run_commit(
                &row.group_id,
                &Op::SetRole {
                    user: user.to_owned(),
                    role: role.to_owned(),
                },
            )
            .await?;
        Ok(committed.is_some())
    }

    /// The group's participants with their role names; `None` when the group has no room
    /// policy.
    pub fn roles(&self, group: &str) -> Result<Option<Vec<(String, String)>>, ClientError> {
        let row = self.group_row(group)?;
        if self.options.partial {
            // The participant list is in the GroupContext; a partial member lists no roles.
            return Ok(None);
        }
        crate::policy::roles_of(&self.load_group(&row)?)
    }
}
