//! Linking: subprograms, map and global-data references, relocations.
