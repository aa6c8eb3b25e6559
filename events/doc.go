// Package events is the document event log and its live fan-out.
//
// Every state change and progress step of a document is appended to
// document_events in the same transaction as the change: package documents
// numbers it with the document's gap-free seq, and Append gives it a
// global pos, gap-free and in commit order (a counter row locked until
// commit), and announces it with NOTIFY folio_events carrying only the pos.
// A trigger also numbers it in its owner's log (owner_pos, from a clock
// row per owner, also held until commit): the only position clients see,
// so that nobody learns how busy other owners are.
//
// Each API process runs one Hub: one dedicated LISTEN connection, and after
// every notification (and after every reconnect) it reads the events past
// the last pos it delivered and hands them to its subscribers. Because pos
// is in commit order, reading "pos > last" never skips an event whose
// transaction committed late; because it is gap-free, a hole would show.
//
// The package also owns stream tickets (single-use credentials for
// browsers) and the payload type of every event variant.
package events
