/// How many steps of a migration job run at once. On a machine whose cores the copy keeps busy (the servers reading
/// and writing it, more than the proxy), clients' writes wait for CPU and disk meanwhile: while they write, a job
/// steps back to `migrate_workers_while_writing`, and goes back to its `worker` count once they stop.
module InfluxProxy.Core.MigrationPace

/// The steps to run at once: the job's `workers`, no more than `whileWriting` while clients write.
let stepsAtOnce (workers: int) (whileWriting: int) (clientsWriting: bool) : int =
    if clientsWriting then min workers whileWriting else workers
