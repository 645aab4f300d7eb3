"""Beyond one kernel: runs queued on RQ workers over Redis (`%%agent NAME --queue`, `%%orchestrate --queue`,
`%agent map ... --queue`, `%agent runs`, `%agent result`), started with `coditect-magics worker`. Needs the `team`
extra; nothing here is imported until a run is queued."""
