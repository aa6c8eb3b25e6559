// Package documents is the Document model, its states, and its Postgres
// repository. Every query is scoped by owner: a document of another owner
// is indistinguishable from one that does not exist.
package documents
