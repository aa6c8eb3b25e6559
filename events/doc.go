// Package events is the document event log and its live fan-out.
//
// Every state change and progress step of a document is appended to
// document_events in the same transaction as the change (Append), with a
// per-document seq that is gap-free and a global pos that is gap-free and
// in commit order (a counter row locked until commit), and announced with
// NOTIFY folio_events carrying only the pos.
//
// Each API process runs one Hub: one dedicated LISTEN connection, and after
// every notification (and after every reconnect) it reads the events past
// the last pos it delivered and hands them to its subscribers. Because pos
// is in commit order, reading "pos > last" never skips an event whose
// transaction committed late; because it is gap-free, a hole would show.
package events
