//! Events programs run on: replay files, live tracepoints and uprobes.
