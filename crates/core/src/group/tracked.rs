//! Change tracking of the group's fields for incremental storage ([`crate::storage`]).
//!
//! Every field of a [`super::Group`] that is stored in its group record is wrapped in
//! [`Tracked`]: reading it is free, and any mutable access marks it changed, so that the
//! next [`super::Group::take_changes`] rewrites every record. Only the secret trees are
//! reached past the tracking ([`Tracked::untracked_mut`]) by the application-message paths,
//! because the secret trees record their own changes entry by entry. A method that changes
//! a field and was forgotten here therefore costs a full rewrite, never a stale store.

use std::ops::{Deref, DerefMut};

/// A value whose mutable accesses are recorded.
#[derive(Debug)]
pub(crate) struct Tracked<T> {
    value: T,
    changed: bool,
}

impl<T> Tracked<T> {
    /// Wraps a value, unchanged.
    pub(crate) fn new(value: T) -> Self {
        Self {
            value,
            changed: false,
        }
    }

    /// Mutable access that does not mark the value changed. Only for the secret trees, whose
    /// changes [`crate::secret_tree::SecretTree::take_changed`] reports.
    pub(crate) fn untracked_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// Whether the value was accessed mutably since the last call; resets the mark.
    pub(crate) fn take_changed(&mut self) -> bool {
        std::mem::replace(&mut self.changed, false)
    }
}

impl<T> From<T> for Tracked<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Tracked<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.changed = true;
        &mut self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_do_not_mark_writes_do() {
        let mut v = Tracked::new(vec![1u8]);
        assert_eq!(v.len(), 1);
        assert!(!v.take_changed());
        v.untracked_mut().push(2);
        assert!(!v.take_changed());
        v.push(3);
        assert!(v.take_changed());
        assert!(!v.take_changed());
        assert_eq!(*v, vec![1, 2, 3]);
    }
}
