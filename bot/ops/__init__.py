"""The operator's tools that need no chat library: dead letters, backups, the doctor (docs/OPERATIONS.md)."""
