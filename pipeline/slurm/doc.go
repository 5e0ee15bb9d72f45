// Package slurm is dmlrun's Slurm executor: `dmlrun apply --executor slurm` fans an
// experiment out over a Slurm cluster whose nodes share the store's filesystem, one job
// per node, driving Slurm only through its commands (sbatch, squeue, sacct, scancel,
// scontrol, sinfo: Commands), as Snakemake, Nextflow and submitit do.
//
// The head (Executor, a pipeline.Runner) keeps the graph. Each node whose inputs are in the
// store is frozen (pipeline.Job) into the store's jobs/<run>/ folder and submitted with
// `sbatch --parsable`, under one job name per run, with the node's address in --comment;
// siblings of one block that are ready together go as one job array with a concurrency cap
// (%N). The job runs `dmlrun run-node` (NodeRun), which runs exactly that node through the
// local executor's code (pipeline.Executor.RunJob: lock, Get, Begin, Run, Commit). The head
// asks squeue about all of the run's jobs in one call per interval (backing off while
// nothing changes), and sacct about the ones squeue forgot; the store decides success: a
// node is done when its artifact is committed, and a job that ended or vanished without one
// has failed. Failed nodes are submitted again, up to Settings.Retries times, excluding the
// hosts that failed them (--no-requeue keeps Slurm from retrying behind the head's back);
// the job's output is kept as the key's failed log (store.KeepFailedLog), shown by plan and
// show. Detach submits the whole remaining graph with afterok dependencies and returns;
// Jobs lets `dmlrun plan` show what is queued, running (with job ids) and done.
//
// Time limits and preemption: every job gets --signal=B:USR1@SignalLead. At that signal a
// resumable stage (train) stops at a step boundary, keeping its last epoch checkpoint in
// tmp/<key>.partial, and the job requeues itself (scontrol update requeue=1, then scontrol
// requeue: Slurm 22.05 refuses to requeue a --no-requeue job otherwise); it keeps its job
// id, so the head and detached dependents simply see it queued again, and the node resumes
// from the checkpoint to a byte-identical result. Slurm holds a requeued job for its
// credential lifetime (cred_expire, 120 s by default) before it may start again. If the
// requeue is refused the job says so in its outcome and the head submits the node again
// at once.
//
// Settings (partition, account, per-stage time limit, CPUs, memory, GPUs as --gres, jobs
// in flight, retries, signal lead, extra sbatch arguments) come from an executor config
// file (DecodeFile, HCL or YAML, problems at file:line:col) and flags, never from the
// experiment file: keys and results are the local executor's.
//
// What it is not: a scheduler (Slurm is one), or a client of Slurm's REST API. It does not
// import the stages (the head freezes nodes, the job's dmlrun has the stages) and does not
// know the store's layout beyond the jobs/ folder it keeps its runs in.
package slurm
