// Package events is the document event log and its live fan-out.
//
// Every state change and progress step of a document is appended to
// document_events in the same transaction as the change: package documents
// numbers it with the document's gap-free seq under the document row's
// lock, and Append inserts it, taking no other lock and sending nothing.
// Sequence, which every API process's hub runs every PollInterval (one
// process at a time), then gives the events it finds committed their
// positions: a global pos, gap-free and in commit order, and a position in
// the owner's log (owner_pos, also gap-free): the only position clients
// see, so that nobody learns how busy other owners are. It announces each
// batch with one NOTIFY folio_events carrying the new head.
//
// Each Hub reads the events past the last pos it delivered after every
// announcement (and every reconnect) and hands each to the subscriptions of
// its owner and document only. Because pos is in commit order and
// gap-free, reading "pos > last" never skips an event and a hole would
// show. docs/architecture.md ("The event log") says why this design, and
// what it costs.
//
// The package also owns stream tickets (single-use credentials for
// browsers) and the payload type of every event variant.
package events
