/// How many steps of a migration job start at once. On a machine whose cores the copy keeps busy (the servers reading
/// and writing it, more than the proxy), clients' writes wait for CPU and disk meanwhile: while they write, a job
/// starts no more than `migrate_workers_while_writing` steps at once, and goes back to its `worker` count once they
/// stop. Steps already running finish.
module InfluxProxy.Core.MigrationPace

/// The steps to run at once: the job's `workers`, no more than `whileWriting` while clients write.
let stepsAtOnce (workers: int) (whileWriting: int) (clientsWriting: bool) : int =
    if clientsWriting then min workers whileWriting else workers

/// The line a job logs when its steps at once go from `before` to `now`; none when they stay.
let change (before: int) (now: int) : string option =
    if now = before then None
    else
        let steps = if now = 1 then "one step at a time" else sprintf "%d steps at once" now
        Some(steps + if now < before then ": clients are writing" else ": clients stopped writing")
