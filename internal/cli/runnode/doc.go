// Package runnode is `dmlrun run-node JOBFILE`, the hidden command every job of the Slurm
// executor runs: it reads one node's frozen definition (pipeline.Job, written by the head
// into the store's jobs/ folder) and runs exactly that node against the store, through the
// local executor's code (pipeline.Executor.RunJob), with the signal handling of the job
// side (slurm.NodeRun: SIGUSR1 before the time limit checkpoints and requeues a training,
// SIGTERM stops it). Stage logs and run-node's lines go to stderr, which is the job's
// output file.
//
// What it is not: a way to run nodes by hand (apply is), or a scheduler: it never looks at
// other nodes.
package runnode
