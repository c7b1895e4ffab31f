//! Program contexts: pt_regs layouts, tracepoint records, raw tracepoint arguments.
