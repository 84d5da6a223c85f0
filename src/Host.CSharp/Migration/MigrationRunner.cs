using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Hosting;
using InfluxProxy.Host.Write;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// Accepts migration jobs and carries them out in the background: a job is on disk (<see cref="JobStore"/>) before it
/// is accepted, holds its flag (here and on the peers) while it runs, reads the inventory and plans once
/// (<see cref="MigrationPlan.plan"/>), then runs its steps on <c>workers</c> at once, each as soon as the steps
/// it waits for are done (<see cref="MigrationPlan.prerequisites"/>), recording each as it ends. Stopping the
/// proxy leaves unfinished jobs on disk; the next start goes on with the steps not recorded as done.
/// </summary>
public sealed partial class MigrationRunner(
    Cluster cluster,
    MigrationBackends backends,
    BackendRegistry registry,
    JobStore store,
    MigrationState state,
    PeerFlags peers,
    MigrationLog log,
    MigrationOptions options,
    ClientWrites clientWrites,
    TimeProvider time,
    ILogger<MigrationRunner> logger) : IBackgroundWork
{
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan PaceCheckEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan[] CopyRetries = [TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)];

    private readonly Lock _lock = new();
    private readonly List<JobRun> _jobs = []; // guarded by _lock
    private readonly Lock _copiedLock = new();
    private readonly CancellationTokenSource _stopping = new();
    private IReadOnlyList<string> _haAddrs = options.HaAddrs; // guarded by _lock

    public void Start()
    {
        foreach (var stored in store.Load())
        {
            var parsed = Parse(stored.Job, MigrationFlagsModule.none(cluster.Circles.Count));
            var run = new JobRun(stored.Job, parsed.IsOk ? parsed.ResultValue : DefaultRequest, FlagOf(parsed), Peers(stored.Job), time.GetUtcNow());
            if (stored.Plan is { } plan)
            {
                run.Plan = plan;
                foreach (var (id, status) in MigrationJobModule.statuses(plan.Steps, stored.Records))
                    run.Set(id, status.IsDone ? status : StepStatus.Pending); // a failed step is tried again
                run.Resumed();
            }
            run.End = stored.End;
            lock (_lock)
                _jobs.Add(run);
            if (stored.End is not null)
                continue;
            if (parsed.IsError)
            {
                run.End = Abandon(run, $"the request no longer fits the configuration: {MigrationRequestErrorModule.text(parsed.ErrorValue)}");
                continue;
            }
            Claim(run.Flag);
            Launch(run);
        }
    }

    public async Task StopAsync()
    {
        await _stopping.CancelAsync();
        Task[] running;
        lock (_lock)
            running = [.. _jobs.Select(j => j.Running)];
        await Task.WhenAll(running);
    }

    /// <summary>
    /// Validates a request in the original's order (a circle it needs busy is refused), keeps it on disk, claims
    /// its flag and starts it; the job's id, or why it was refused.
    /// </summary>
    public FSharpResult<string, MigrationRequestError> Submit(string endpoint, IReadOnlyList<(string Name, string Value)> parameters, string body)
    {
        lock (_lock)
        {
            var nowNs = (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
            var request = MigrationRequestModule.parse(endpoint, cluster.Circles.Count, Environment.ProcessorCount, nowNs, state.Current, Value(parameters), body);
            if (request.IsError)
                return FSharpResult<string, MigrationRequestError>.NewError(request.ErrorValue);
            if (request.ResultValue.HaAddrs?.Value is { } addrs)
                _haAddrs = [.. addrs];
            // The peers are kept with the job: a resumed job tells the same ones.
            var kept = parameters.Where(p => p.Name != "ha_addrs").Append(("ha_addrs", string.Join(',', _haAddrs)))
                .Select(p => Tuple.Create(p.Item1, p.Item2));
            var job = new MigrationJob($"{time.GetUtcNow():yyyyMMdd'T'HHmmssfff}-{endpoint}", endpoint, ListModule.OfSeq(kept), body, nowNs);
            store.Create(job);
            var run = new JobRun(job, request.ResultValue, FlagOf(request), _haAddrs, time.GetUtcNow());
            _jobs.Add(run);
            Claim(run.Flag);
            Launch(run);
            return FSharpResult<string, MigrationRequestError>.NewOk(job.Id);
        }
    }

    /// <summary>What a request would do, without doing it: its members and its plan over what they hold now.</summary>
    public async Task<FSharpResult<PlannedJob, MigrationRequestError>> DryRunAsync(string endpoint, IReadOnlyList<(string Name, string Value)> parameters,
        string body, CancellationToken ct)
    {
        var nowNs = (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        var request = MigrationRequestModule.parse(endpoint, cluster.Circles.Count, Environment.ProcessorCount, nowNs,
            MigrationFlagsModule.none(cluster.Circles.Count), Value(parameters), body);
        if (request.IsError)
            return FSharpResult<PlannedJob, MigrationRequestError>.NewError(request.ErrorValue);
        return FSharpResult<PlannedJob, MigrationRequestError>.NewOk(await PlanAsync(request.ResultValue, ct));
    }

    /// <summary>
    /// Cancels a job that has not ended and returns once it has stopped and released its flag: its running steps
    /// stop, what they queued is still delivered. False when there is no such job running.
    /// </summary>
    public async Task<bool> CancelAsync(string id)
    {
        JobRun? run;
        lock (_lock)
            run = _jobs.FirstOrDefault(j => j.Job.Id == id && j.End is null);
        if (run is null)
            return false;
        run.End = JobEnd.Cancelled;
        store.End(id, JobEnd.Cancelled);
        await run.Cancellation.CancelAsync();
        await run.Running;
        return true;
    }

    /// <summary>Every job since the data folder was made, oldest first.</summary>
    public IReadOnlyList<JobRun> Jobs
    {
        get
        {
            lock (_lock)
                return [.. _jobs];
        }
    }

    /// <summary>The counters <c>/migrate/stats</c> shows: the latest job of the kind, its sources in the circle.</summary>
    public IReadOnlyList<SourceProgress> Stats(int circle, MigrationKind kind)
    {
        var run = Jobs.LastOrDefault(j => j.Kind.Equals(kind));
        if (run?.Plan is not { } plan)
            return [];
        var sourceCircles = MigrationProgress.sourceCircles(cluster.Circles.Count, Operation(run.Request, [.. plan.Members]));
        return [.. MigrationProgress.bySource(plan, run.Statuses, sourceCircles, circle)];
    }

    private void Launch(JobRun run)
    {
        var token = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, run.Cancellation.Token).Token;
        run.Running = Task.Run(() => RunAsync(run, token));
    }

    /// <summary>
    /// Plans (once) and runs the job. Its end is shown only once its flag is released here and on the peers, so a
    /// client that sees a job ended can start the next one on that circle.
    /// </summary>
    private async Task RunAsync(JobRun run, CancellationToken ct)
    {
        using var renewing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var renewals = RenewFlagAsync(run, renewing.Token);
        var operation = run.Job.Endpoint;
        JobEnd? ended = null;
        MigrationMetrics.JobsRunning.Inc();
        try
        {
            if (run.Plan is null)
            {
                log.Write(operation, $"{operation} start: job {run.Job.Id}");
                LogStarted(run.Job.Id, operation);
                try
                {
                    var plan = await PlanAsync(run.Request, ct);
                    store.SavePlan(run.Job.Id, plan);
                    run.Plan = plan;
                    log.Write(operation, $"plan of job {run.Job.Id}: {plan.Steps.Length} steps");
                }
                catch (StepFailure e)
                {
                    ended = Abandon(run, $"no plan: {e.Message}");
                    return;
                }
            }
            else
                log.Write(operation, $"{operation} resumed: job {run.Job.Id}");
            using (new Timer(_ => LogRunProgress(run), null, ProgressEvery, ProgressEvery))
            {
                await ExecuteAsync(run, ct);
                await CopiesDeliveredAsync(run, ct);
            }
            if (ct.IsCancellationRequested)
                return; // stopping: the job goes on at the next start; cancelled: ended by Cancel
            ended = JobEnd.Finished;
            store.End(run.Job.Id, ended);
            RememberCopies(run);
            var state = JobStateModule.name(MigrationProgress.state(FSharpOption<PlannedJob>.Some(run.Plan!), run.Statuses, FSharpOption<JobEnd>.Some(ended)));
            log.Write(operation, $"{operation} done: {state}");
            LogEnded(run.Job.Id, operation, state);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            await renewing.CancelAsync();
            await renewals;
            if (ended is not null || run.End is not null)
            {
                Release(run.Flag);
                await peers.TellAsync(run.Peers, run.Flag, false, CancellationToken.None);
                run.End ??= ended;
            }
            MigrationMetrics.JobsRunning.Dec();
        }
    }

    private async Task<PlannedJob> PlanAsync(MigrationRequest request, CancellationToken ct)
    {
        var members = backends.Members(Removed(request), Circle(request));
        FSharpSet<Tuple<string, string, string, string, string>> copied;
        lock (_copiedLock)
            copied = store.Copied();
        return await Planner.PlanAsync(backends, members, Operation(request, members), request.Dbs, copied, request.Workers, ct);
    }

    /// <summary>
    /// Runs every step not done, each once the steps it waits for are done, <c>workers</c> at once (fewer while clients
    /// write: <see cref="MigrationPace"/>), the lowest id first; the steps waiting for one that failed are skipped.
    /// </summary>
    private async Task ExecuteAsync(JobRun run, CancellationToken ct)
    {
        var plan = run.Plan!;
        var prerequisites = MigrationPlan.prerequisites(plan.Steps);
        var steps = plan.Steps.ToDictionary(s => s.Id);
        var members = plan.Members.ToDictionary(m => m.Id);
        var dependents = new Dictionary<int, List<int>>();
        var waiting = new Dictionary<int, int>();
        var ready = new SortedSet<int>();
        foreach (var step in plan.Steps.Where(s => !run.Status(s.Id).IsDone))
        {
            var open = prerequisites[step.Id].Where(id => !run.Status(id).IsDone).ToList();
            foreach (var id in open)
                (dependents.TryGetValue(id, out var list) ? list : dependents[id] = []).Add(step.Id);
            waiting[step.Id] = open.Count;
            if (open.Count == 0)
                ready.Add(step.Id);
        }
        var copier = new PointCopier(backends, registry, new DestinationSchema(), run.Request.Batch?.Value ?? options.Batch, options.Gzip);
        var verifier = new SeriesVerifier(backends, registry, time);
        var running = new Dictionary<Task, int>();
        var pace = run.Request.Workers;
        while (!ct.IsCancellationRequested && (ready.Count > 0 || running.Count > 0))
        {
            var stepsAtOnce = MigrationPace.stepsAtOnce(run.Request.Workers, options.WorkersWhileWriting, clientWrites.Ongoing);
            run.StepsAtOnce = stepsAtOnce;
            if (ready.Count > 0 && MigrationPace.change(pace, stepsAtOnce) is { } change)
            {
                log.Write(run.Job.Endpoint, change.Value);
                pace = stepsAtOnce;
            }
            while (ready.Count > 0 && running.Count < stepsAtOnce)
            {
                var next = ready.Min;
                ready.Remove(next);
                running[RunStepAsync(run, steps[next], members, copier, verifier, ct)] = next;
            }
            // Held back while steps wait: looked at again every so often, not only when a step ends (one may take minutes).
            var finished = ready.Count > 0 && stepsAtOnce < run.Request.Workers
                ? await Task.WhenAny([.. running.Keys, Task.Delay(PaceCheckEvery, time, ct)])
                : await Task.WhenAny(running.Keys);
            if (!running.TryGetValue(finished, out var id))
                continue;
            running.Remove(finished);
            if (run.Status(id).IsDone)
            {
                foreach (var dependent in dependents.GetValueOrDefault(id, []))
                    if (--waiting[dependent] == 0)
                        ready.Add(dependent);
            }
            else if (!ct.IsCancellationRequested)
                SkipAfter(run, id, dependents);
        }
        run.StepsAtOnce = 0;
        await Task.WhenAll(running.Keys);
    }

    /// <summary>
    /// A job ends once what its copies handed over has reached their destinations: a batch backlogged while a
    /// destination was down is not there yet, and its circle stays flagged (not read) until it is.
    /// </summary>
    private async Task CopiesDeliveredAsync(JobRun run, CancellationToken ct)
    {
        var destinations = run.Plan!.Steps
            .Where(s => s.Kind.IsCopy && run.Status(s.Id).IsDone)
            .SelectMany(s => ((StepKind.Copy)s.Kind).destinations)
            .Distinct();
        foreach (var id in destinations)
        {
            if (await DestinationDrain.WaitAsync(registry[id], TimeSpan.Zero, time, ct))
                continue;
            log.Write(run.Job.Endpoint, $"waiting for {registry[id].Info.Url} to take what was copied to it (backlog of {registry[id].Backlog.Reader.PendingRecords} records)");
            await DestinationDrain.WaitAsync(registry[id], Timeout.InfiniteTimeSpan, time, ct);
        }
    }

    /// <summary>Every step that waits, directly or not, for the failed one.</summary>
    private static void SkipAfter(JobRun run, int failed, Dictionary<int, List<int>> dependents)
    {
        var skipped = StepStatus.NewSkipped($"step {failed} it waits for did not succeed");
        var next = new Queue<int>(dependents.GetValueOrDefault(failed, []));
        while (next.TryDequeue(out var id))
            if (run.Status(id).IsPending)
            {
                run.Set(id, skipped);
                foreach (var dependent in dependents.GetValueOrDefault(id, []))
                    next.Enqueue(dependent);
            }
    }

    private async Task RunStepAsync(JobRun run, MigrationStep step, Dictionary<int, MigrationMember> members, PointCopier copier, SeriesVerifier verifier,
        CancellationToken ct)
    {
        await Task.Yield();
        run.Set(step.Id, StepStatus.NewRunning(0));
        var source = members[step.Source];
        try
        {
            var points = 0L;
            switch (step.Kind)
            {
                case StepKind.Copy copy:
                    var destinations = copy.destinations.Select(d => members[d]).ToList();
                    points = await WithRetriesAsync(() => copier.CopyAsync(source, destinations, step, copy.window, p => run.Set(step.Id, StepStatus.NewRunning(p)), ct), ct);
                    log.Write(run.Job.Endpoint, $"src:{source.Url} dst:[{string.Join(' ', destinations.Select(d => d.Url))}] db:{step.Db} rp:{step.Rp} measurement:{step.Measurement} points:{points}");
                    MigrationMetrics.PointsCopied.Inc(points);
                    break;
                case StepKind.Verify verify:
                    await verifier.VerifyAsync(source, members[verify.destination], step, ct);
                    log.Write(run.Job.Endpoint, $"check backend:{source.Url} db:{step.Db} rp:{step.Rp} measurement:{step.Measurement}: {members[verify.destination].Url} holds it");
                    break;
                case var _ when step.Kind.IsDrop:
                    var dropped = await backends.Schema(source).ExecuteAsync(step.Db, MigrationQueries.dropMeasurement(step.Measurement), ct);
                    if (dropped.IsError)
                        throw new StepFailure($"{source.Url}: {dropped.ErrorValue}");
                    log.Write(run.Job.Endpoint, $"clear backend:{source.Url} db:{step.Db} measurement:{step.Measurement} done");
                    break;
                default:
                    log.Write(run.Job.Endpoint, $"backend {source.Url} drained");
                    break;
            }
            store.Record(run.Job.Id, StepRecord.NewStepDone(step.Id, points));
            run.Set(step.Id, StepStatus.NewDone(points));
            MigrationMetrics.Steps.WithLabels(Kind(step), "done").Inc();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            run.Set(step.Id, StepStatus.Pending); // done again at the next start
        }
        catch (Exception e) when (e is StepFailure or IOException)
        {
            store.Record(run.Job.Id, StepRecord.NewStepFailed(step.Id, e.Message));
            run.Set(step.Id, StepStatus.NewFailedWith(e.Message));
            MigrationMetrics.Steps.WithLabels(Kind(step), "failed").Inc();
            log.Write(run.Job.Endpoint, $"migrate error: {e.Message} src:{source.Url} db:{step.Db} rp:{step.Rp} measurement:{step.Measurement}");
            LogStepFailed(run.Job.Id, step.Id, e.Message);
        }
    }

    /// <summary>A copy is tried again after a failure (the source or a destination may be back): copying twice stores each point once.</summary>
    private async Task<long> WithRetriesAsync(Func<Task<long>> copy, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await copy();
            }
            catch (StepFailure) when (attempt < CopyRetries.Length)
            {
                await Task.Delay(CopyRetries[attempt], time, ct);
            }
        }
    }

    private static string Kind(MigrationStep step) => step.Kind switch
    {
        StepKind.Copy => "copy",
        StepKind.Verify => "verify",
        _ when step.Kind.IsDrop => "drop",
        _ => "drained",
    };

    private async Task RenewFlagAsync(JobRun run, CancellationToken ct)
    {
        if (run.Peers.Count == 0)
            return;
        try
        {
            while (true)
            {
                await peers.TellAsync(run.Peers, run.Flag, true, ct);
                await Task.Delay(PeerFlags.Lease / 3, time, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Ends the job on disk before any step: no plan, or a request the configuration no longer fits.</summary>
    private JobEnd Abandon(JobRun run, string reason)
    {
        var end = JobEnd.NewAbandoned(reason);
        store.End(run.Job.Id, end);
        log.Write(run.Job.Endpoint, $"{run.Job.Endpoint} abandoned: {reason}");
        LogPlanFailed(run.Job.Id, reason);
        return end;
    }

    /// <summary>Adds the copies the job finished whole to those a later job need not do again.</summary>
    private void RememberCopies(JobRun run)
    {
        var plan = run.Plan!;
        var finished = plan.Steps.Where(s => run.Status(s.Id).IsDone);
        var urls = plan.Members.ToDictionary(m => m.Id, m => m.Url);
        var copies = MigrationPlan.copiedWhole(
            FuncConvert.FromFunc<int, string>(id => urls.GetValueOrDefault(id, "")), Operation(run.Request, plan.Members.ToList()), ListModule.OfSeq(finished));
        lock (_copiedLock)
            store.SaveCopied(SetModule.Union(store.Copied(), copies));
    }

    private void LogRunProgress(JobRun run)
    {
        if (run.Plan is not { } plan)
            return;
        var (read, total, rate, _) = run.Progress(time.GetUtcNow());
        LogProgress(run.Job.Id, plan.Steps.Count(s => run.Status(s.Id).IsDone), plan.Steps.Length, read, total, rate);
    }

    private void Claim(MigrationFlag flag) => state.Update(Update(flag, true));

    private void Release(MigrationFlag flag) => state.Update(Update(flag, false));

    private static MigrationUpdate Update(MigrationFlag flag, bool value) => flag.Circle is { } circle
        ? new MigrationUpdate(null, FSharpOption<Tuple<int, bool>>.Some(Tuple.Create(circle, value)))
        : new MigrationUpdate(FSharpOption<bool>.Some(value), null);

    private FSharpResult<MigrationRequest, MigrationRequestError> Parse(MigrationJob job, MigrationFlags flags)
    {
        var parameters = job.Parameters.Select(p => (p.Item1, p.Item2)).ToList();
        return MigrationRequestModule.parse(job.Endpoint, cluster.Circles.Count, Environment.ProcessorCount, job.AcceptedNs, flags, Value(parameters), job.Body);
    }

    private static FSharpFunc<string, string> Value(IReadOnlyList<(string Name, string Value)> parameters) =>
        FuncConvert.FromFunc<string, string>(name => parameters.FirstOrDefault(p => p.Name == name).Value ?? "");

    private static IReadOnlyList<string> Peers(MigrationJob job) =>
        [.. MigrationRequestModule.list(job.Parameters.FirstOrDefault(p => p.Item1 == "ha_addrs")?.Item2 ?? "")];

    /// <summary>A request that could not be read back; its job is abandoned, never run.</summary>
    private static readonly MigrationRequest DefaultRequest =
        new(RequestedOperation.NewClearRequest(0), FSharpList<string>.Empty, 1, null, null, false);

    private static MigrationFlag FlagOf(FSharpResult<MigrationRequest, MigrationRequestError> request) =>
        request.IsOk ? FlagOf(request.ResultValue) : new MigrationFlag(null);

    private static MigrationFlag FlagOf(MigrationRequest request) => request.Operation switch
    {
        RequestedOperation.RebalanceRequest r => new MigrationFlag(r.circle),
        RequestedOperation.RecoveryRequest r => new MigrationFlag(r.toCircle),
        RequestedOperation.ClearRequest c => new MigrationFlag(c.circle),
        _ => new MigrationFlag(null),
    };

    private static int Circle(MigrationRequest request) => request.Operation is RequestedOperation.RebalanceRequest r ? r.circle : -1;

    private static IEnumerable<RemovedBackend> Removed(MigrationRequest request) =>
        request.Operation is RequestedOperation.RebalanceRequest r ? r.removed : [];

    private MigrationOperation Operation(MigrationRequest request, IReadOnlyList<MigrationMember> members) => request.Operation switch
    {
        RequestedOperation.RebalanceRequest r => MigrationOperation.NewRebalance(r.circle, ListModule.OfSeq(members.Skip(cluster.Backends.Count))),
        RequestedOperation.RecoveryRequest r => MigrationOperation.NewRecovery(r.fromCircle, r.toCircle, r.urls),
        RequestedOperation.ResyncRequest r => MigrationOperation.NewResync(r.since),
        RequestedOperation.ClearRequest c => MigrationOperation.NewClear(c.circle),
        _ => throw new InvalidOperationException("unknown operation"),
    };

    [LoggerMessage(EventId = EventIds.MigrationStarted, Level = LogLevel.Information, Message = "migration {Job} ({Operation}) started")]
    private partial void LogStarted(string job, string operation);

    [LoggerMessage(EventId = EventIds.MigrationProgress, Level = LogLevel.Information, Message = "migration {Job}: {Done}/{Steps} steps done, {Read}/{Total} points copied, {Rate} points/s")]
    private partial void LogProgress(string job, int done, int steps, long read, long total, long rate);

    [LoggerMessage(EventId = EventIds.MigrationStepFailed, Level = LogLevel.Warning, Message = "migration {Job} step {Step} failed: {Reason}")]
    private partial void LogStepFailed(string job, int step, string reason);

    [LoggerMessage(EventId = EventIds.MigrationEnded, Level = LogLevel.Information, Message = "migration {Job} ({Operation}) ended: {State}")]
    private partial void LogEnded(string job, string operation, string state);

    [LoggerMessage(EventId = EventIds.MigrationPlanFailed, Level = LogLevel.Error, Message = "migration {Job} abandoned: {Reason}")]
    private partial void LogPlanFailed(string job, string reason);
}
