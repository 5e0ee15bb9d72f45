// Package store is dmlrun's content-addressed artifact store: one read-only directory per
// content key, each with a manifest.json that lists the digest and size of every file and
// the key material (stage, stage version, parameters, input keys, key inputs) the key was
// computed from.
//
// Layout under the store root (default "results/" in the working directory):
//
//	<key[:2]>/<key>/          a finished artifact: the stage's files plus manifest.json
//	tmp/<key>.partial/        the in-progress output of a resumable stage (kept on failure)
//	tmp/<key>.<random>/       the in-progress output of any other stage (removed on failure)
//	tmp/<key>.failed.log      the log of a key's last failed run (KeepFailedLog; removed on commit)
//	tmp/discard-<key>.<rnd>/  an artifact being deleted or replaced
//	locks/<key>.lock          per-key lock file (flock); records PID, host and start time
//	verified/<key>.json       file stats at the last full hash (lets Get skip re-hashing)
//	index/<id>.json           per experiment file: the last key, parameters and inputs of
//	                          each node address, so a plan can say why a node re-runs
//	index/<id>.json.lock      serialises writers of that index
//
// # What it guarantees
//
// Atomic artifacts: an artifact directory appears only after every file in it and its
// manifest were written and fsynced; it is renamed into place in one step and the parent
// directory is fsynced, so a crash never leaves something that looks finished.
//
// Verified reads: Get re-checks the manifest and every file's size and SHA-256 (skipping
// files whose size, mtime, ctime and inode are unchanged since their last full hash;
// Verify always re-hashes) and that no unlisted file was added. Any mismatch is a miss
// with a reason (MissError), never a hit; the next apply recomputes the key and replaces
// what is there.
//
// Manifests cannot lie: with Store.ManifestKey set (dmlrun's command layer sets it to
// pipeline.KeyCheck(registry)), Get and Verify recompute the key from the manifest's key material
// every time, fast path included. Fields that hash to another key, or parameters that do
// not fit the stage's schema, are damage. A manifest made by a stage or stage version this
// program does not have cannot be recomputed: Get treats it as a miss (it is only asked
// for keys of the current stages), Verify reports it as not checked.
//
// Links are never followed inside the store. The root may be a symbolic link (Open
// resolves it once); below it, every file is opened one path component at a time with
// O_NOFOLLOW, listings and removals use Lstat and unlinkat, and lock files must be
// regular files with a single name (no symbolic or hard link), so nothing outside the
// store is read, written, truncated or deleted through a link. What the store refuses:
//   - Open fails with a *LayoutError naming the path and the fix when tmp, locks, index,
//     verified or a shard folder (two hex digits) is a link or not a directory;
//   - an artifact directory, sub-directory or file that is a link (or a FIFO, socket or
//     device) is damage: Get misses, and the next commit removes the link itself;
//   - TryLock refuses a lock file that is a link, a hard link, a directory or a FIFO;
//   - Begin refuses a tmp/<key>.partial that is a link or holds one (the resumed stage
//     would write and delete through it).
//
// Foreign entries are left alone and accounted for: Scan lists, with the reason, every
// entry of the root and of the shard folders that is not an artifact (links, stray files,
// unknown names, keys in the wrong shard), and Temps marks tmp/ names the store never
// makes; cache verify and cache gc print them and do not touch them (gc removes links in
// tmp/ themselves, which touches nothing outside).
//
// Leftovers of killed runs are removed: Begin, which runs under the key's lock, removes the
// key's tmp/<key>.<random> and tmp/discard-<key>.* directories (they can only belong to a
// dead run); RecordIndex removes its experiment's dead index/<id>.json.*.tmp files under
// that experiment's index lock; RemoveStrayTemps (cache gc) removes any index temporary
// file whose experiment lock it can take without waiting, and stat-cache temporaries.
// Fault points (package failpoint: store.lock, store.commit.hashed, store.commit.manifest,
// store.commit.renamed, store.index.temp) let tests kill or fail the store at each step.
//
// A per-key lock lets several processes share a store and compute each key once; the
// kernel releases it when its holder dies, so a crash leaves no stale lock.
//
// # Where it is safe
//
// One machine's local disk. The lock is flock(2), which network file systems (NFS, SMB,
// most FUSE mounts) emulate poorly or not at all, and the rename and fsync ordering it
// relies on is a local-file-system property. Do not point two machines at one store over a
// network file system. The store protects against links and foreign entries, not against
// another user with write access to it racing its own operations.
//
// # What it is not
//
// The store knows nothing of stages, experiments or graphs. It does not compute keys
// (package pipeline does, and lends the store its ManifestKey) and does not decide what to
// run.
package store
