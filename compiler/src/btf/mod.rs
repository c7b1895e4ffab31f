//! BTF and .BTF.ext: types, func/line info, CO-RE relocations.
