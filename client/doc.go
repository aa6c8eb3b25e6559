// Package client is a small Go client for Folio's API: uploads with byte
// progress, and live event streams that reconnect with backoff and jitter
// and resume from the last event they saw, so a handler sees every event of
// a document once and in order across disconnects, server restarts (close
// code 1012, reconnect at once), being too slow (1013) and load balancers
// sending the reconnect elsewhere (BaseURLs are tried in turn).
package client
