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
//	jobs/                     a cluster executor's run records (JobsDir; made on first use,
//	                          its content is the executor's)
//	locks/<key>.lock          the key's lease while a process holds the key (see below)
//	verified/<key>.json       file stats at the last full hash (lets Get skip re-hashing)
//	index/<id>.json           per experiment file: the last key, parameters and inputs of
//	                          each node address, so a plan can say why a node re-runs
//	index/<id>.json.lock      the lease of a writer of that index
//	<lease>.new-<rnd>         a lease being created (for a moment)
//	<lease>.broken-<rnd>      a stale lease being removed (for a moment)
//	<lease>.break-<hash>      a breaker's claim on one stale lease (for a moment)
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
// O_NOFOLLOW, listings and removals use Lstat and unlinkat, and lease files are only
// read, renamed and unlinked by name (their mtime is set through the holder's own
// descriptor), so nothing outside the store is read, written, truncated or deleted
// through a link. What the store refuses:
//   - Open fails with a *LayoutError naming the path and the fix when tmp, locks, index,
//     verified, jobs or a shard folder (two hex digits) is a link or not a directory;
//   - an artifact directory, sub-directory or file that is a link (or a FIFO, socket or
//     device) is damage: Get misses, and the next commit removes the link itself;
//   - TryLock refuses a lock file that is a link, a directory, a FIFO or a file that
//     holds no lock record (a hard link to some other file, say);
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
// that experiment's index lease; RemoveStrayTemps (cache gc) removes any index temporary
// file whose experiment lease it can take without waiting, stat-cache temporaries, and
// the debris of killed lease takers and breakers. Fault points (package failpoint:
// store.lock, store.commit.hashed, store.commit.manifest, store.commit.renamed,
// store.index.temp) let tests kill or fail the store at each step.
//
// # Locks are leases
//
// A per-key lock lets several processes, on one machine or on several sharing the store,
// compute each key once. flock(2) cannot do that across machines: NFS emulates it with its
// own lock protocol (or only locally, with local_lock), Lustre only with the flock mount
// option, and a dead client's lock outlives it for the server's lease period or forever.
// So the lock is a lease: a file only the store's own protocol creates and removes.
//
// Taking it: the holder writes its record to <lease>.new-<rnd> (JSON: lease format,
// random token, pid, host, process start time, boot id, pid namespace, when it was taken,
// and under Slurm the job id, array job and task ids, cluster name and restart count from
// SLURM_JOB_ID, SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURM_CLUSTER_NAME and
// SLURM_RESTART_COUNT), fsyncs it, sets its mtime from Store.Now, and hard-links it to
// locks/<key>.lock; link(2) fails with EEXIST when a lease is there. The lease is linked
// rather than made with open(O_CREAT|O_EXCL) because it then appears with its record, so no
// reader ever has to guess about an empty or half-written one; because link is atomic on
// the server for every NFS version (O_EXCL is only from NFSv3 on, and is emulated by
// some FUSE file systems); and because the one NFS hazard of link, a retransmitted
// request whose first reply was lost answering EEXIST, is resolved by reading the token
// back (the method open(2)'s manual gives for NFS-safe lock files).
//
// Holding it: the holder sets the lease file's mtime (futimes on its own descriptor, so
// never another lease's) every HeartbeatInterval (default 30 s) from Store.Now, after
// checking that the lease file still holds its token. Unlock removes the file if it
// still holds its token.
//
// A lease is stale, and is broken and taken over, when
//   - the lock file is empty (left by an older dmlrun, whose flock lock files stayed);
//   - its holder ran on this machine (same host name, boot id and pid namespace: only then
//     does its pid mean a process here) and that pid is gone, a zombie, or another process
//     (its start time differs: the pid was reused). A holder that runs here holds, however
//     old its heartbeat (a stopped process keeps its lock, as with flock);
//   - its holder ran under Slurm and this process is a later run of the same job (same
//     job id and cluster, higher SLURM_RESTART_COUNT: Slurm ends a job's processes before
//     it requeues it), or Store.JobAlive reports the job gone. The store never calls Slurm
//     itself; without JobAlive (the default) or when it answers JobRunning or JobUnknown,
//     the heartbeat decides;
//   - otherwise, when its heartbeat is older than LeaseTimeout (default 5 min), measured
//     with this process's clock: machines sharing a store must keep their clocks within
//     a small fraction of it (NTP does, to milliseconds).
//
// Breaking one must be safe when several processes on several machines find the same
// stale lease at once: a breaker first takes a claim, <lease>.break-<hash of the stale
// token>, created like a lease, so one breaker at a time works on that lease; it reads the
// lease again, renames it to a unique <lease>.broken-<rnd>, and re-checks what it moved:
// only if that is the lease it judged stale does it delete it; otherwise (a live lease
// appeared there in between) it links it back, which fails rather than replace a lease
// created meanwhile. A claim left by a breaker that died is stale by the same rules and
// broken the same way. Claims and the index's leases are held for milliseconds, have no
// heartbeat and are stale after one minute. Store.OnBreak reports each break.
//
// A holder whose lease was broken (it stalled longer than LeaseTimeout, or Slurm reported
// its job gone while it ran) finds out at its next heartbeat, from CheckLock, and at
// Commit, which then fails with a *LeaseLostError instead of committing; and Commit keeps
// an artifact that is already there and verifies rather than replace it. So a wrong
// verdict costs a second computation of the key, never a wrong or corrupted artifact.
//
// The index is advisory and its writers are serialised by a lease too, so that two heads
// finishing nodes at once do not lose each other's entries; a writer still blocked after
// LeaseTimeout gives up with an error (the pipeline prints a warning). It is replaced
// whole by a temporary file renamed over it, so even writers that were not serialised
// (an index lease wrongly broken) can only lose an entry (last writer wins), never make
// it unreadable. The stat cache (verified/) is written the same way without any lock:
// every record is a whole file describing files its writer hashed, and a record that does
// not match the files' current stats is simply not trusted.
//
// Nothing relies on flock. Commit relies on rename(2) of a directory within one
// file system being atomic, and on fsync of files and directories making them durable
// before the rename; both hold on the file systems below.
//
// # Where it is safe
//
// Supported: a local disk (ext4, XFS, Btrfs, ZFS, tmpfs), or one shared file system that
// gives atomic link(2) and rename(2) at the server and coherent reads across clients:
//   - NFSv4 (4.1 or later preferred: its sessions make retried requests run once) with
//     close-to-open consistency, the default (not nocto). A reader opens a lease before
//     judging it, which revalidates its attributes, and a lease's record is fsynced before
//     it is linked. The default lookupcache is fine: a stale name lookup can at worst make
//     a breaker move a live lease aside and give it back.
//   - Lustre and GPFS (IBM Storage Scale): POSIX semantics and coherence across clients
//     from their distributed lock managers; the flock mount option is not needed.
//
// Not supported:
//   - NFSv3 and NFSv4.0 are untested. The leases do not use NFS locking (no lockd or
//     statd is needed), and their LINK and RENAME are atomic, but a retried RENAME whose
//     first reply was lost, which these versions may run twice, can leave a lease moved
//     aside that nobody gives back.
//   - SMB/CIFS mounts: hard links, mode bits (read-only artifacts), inode numbers and
//     ctime (the stat cache) depend on the server and mount options; a mount without hard
//     links makes TryLock fail with an error saying so.
//   - FUSE mounts (sshfs, s3fs, gcsfuse, rclone ...): their semantics are the daemon's.
//     Object-store mounts have no hard links (TryLock fails saying so) and rename by copy
//     and delete, which is not atomic and which the store cannot detect.
//   - A store whose locks/ and index/ are on different file systems than the rest, or an
//     older dmlrun using the same store at the same time (it locks with flock and does not
//     see leases).
//
// "Two heads on one store compute each node once" relies on: every process that runs a
// node taking its key's lock first and checking the store under it (the executors do);
// link(2) being atomic at the file server; and stale verdicts being right: no live holder
// on another machine stops renewing its lease for longer than LeaseTimeout (a suspended
// job, a file server that hangs for minutes), JobAlive reports a job gone only once it
// has ended, and the machines' clocks agree. When a verdict is wrong the key is computed
// twice and committed once (see above).
//
// The store protects against links and foreign entries, not against another user with
// write access to it racing its own operations.
//
// # What it is not
//
// The store knows nothing of stages, experiments or graphs. It does not compute keys
// (package pipeline does, and lends the store its ManifestKey) and does not decide what to
// run.
package store
