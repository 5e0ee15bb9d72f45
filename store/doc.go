// Package store is dmlrun's content-addressed artifact store: one read-only directory per
// content key, each with a manifest.json that lists the digest and size of every file.
//
// Layout under the store root (default "results/" in the working directory):
//
//	<key[:2]>/<key>/          a finished artifact: the stage's files plus manifest.json
//	tmp/<key>.partial/        the in-progress output of a resumable stage (kept on failure)
//	tmp/<key>.<random>/       the in-progress output of any other stage (removed on failure)
//	tmp/<key>.failed.log      the log of a key's last failed run (written by pipeline)
//	locks/<key>.lock          per-key lock file (flock); records PID, host and start time
//	verified/<key>.json       file stats at the last full hash (lets Get skip re-hashing)
//	index/<id>.json           per experiment file: the last key, parameters and inputs of
//	                          each node address, so a plan can say why a node re-runs
//
// Guarantees: an artifact directory appears only after every file in it and its manifest
// were written and fsynced; it is renamed into place in one step and the parent directory is
// fsynced, so a crash never leaves something that looks finished. Reading an artifact
// re-checks the manifest and every file's size and SHA-256 (skipping files whose size,
// mtime, ctime and inode are unchanged since their last full hash; Verify always re-hashes);
// any mismatch is a miss with a reason (MissError), never a hit. A per-key lock lets several processes share a store and
// compute each key once.
//
// Where it is safe: one machine's local disk. The lock is flock(2), which network file
// systems (NFS, SMB, most FUSE mounts) emulate poorly or not at all, and the rename and fsync
// ordering it relies on is a local-file-system property. Do not point two machines at one
// store over a network file system.
//
// What it is not: the store knows nothing of stages, experiments or graphs. It does not
// compute keys (package pipeline does) and does not decide what to run.
package store
