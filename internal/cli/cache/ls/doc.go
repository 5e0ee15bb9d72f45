// Package ls is `dmlrun cache ls`: list the store's artifacts (key, stage, node, size,
// finish time), as a table or --json, with the entries the store skipped as a warning.
package ls
