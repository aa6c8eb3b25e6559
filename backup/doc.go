// Package backup is what makes Folio's backups restorable as one system:
// the erasure ledger (deletions recorded outside the database, so that a
// restore never brings back what someone deleted), rolling the bucket back
// to a point in time through its object versions, reconciling a restored
// database with the bucket, and the record of base backups that backup
// freshness is exported from. PostgreSQL itself is backed up and restored
// by pgBackRest (docs/operations.md, "Backups and restore").
package backup
