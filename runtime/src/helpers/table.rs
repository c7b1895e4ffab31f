//! The dense helper table bound into `env.helpers`.

use crate::abi::{HELPER_TABLE_LEN, HelperFn};

/// Helper implementations by id; generated code indexes it directly, so it is a fixed-size array.
#[derive(Clone)]
pub struct HelperTable {
    fns: Box<[Option<HelperFn>; HELPER_TABLE_LEN]>,
}

impl std::fmt::Debug for HelperTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<usize> = (0..HELPER_TABLE_LEN).filter(|&i| self.fns[i].is_some()).collect();
        f.debug_struct("HelperTable").field("bound", &ids).finish()
    }
}

impl Default for HelperTable {
    fn default() -> Self {
        HelperTable::empty()
    }
}

impl HelperTable {
    /// A table with no helpers bound.
    pub fn empty() -> HelperTable {
        HelperTable { fns: Box::new([None; HELPER_TABLE_LEN]) }
    }

    /// Binds `id` to `f`. Ids at or above [`HELPER_TABLE_LEN`] cannot be bound and return false.
    pub fn set(&mut self, id: u32, f: HelperFn) -> bool {
        match self.fns.get_mut(id as usize) {
            Some(slot) => {
                *slot = Some(f);
                true
            }
            None => false,
        }
    }

    /// The helper bound to `id`.
    pub fn get(&self, id: u32) -> Option<HelperFn> {
        self.fns.get(id as usize).copied().flatten()
    }

    /// Base address of the table, for `env.helpers`.
    pub fn as_ptr(&self) -> *const Option<HelperFn> {
        self.fns.as_ptr()
    }
}
