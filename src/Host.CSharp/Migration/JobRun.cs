using System.Collections.Concurrent;
using InfluxProxy.Core;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Migration;

/// <summary>One job in memory: its request read back, its plan once made, each step's status, how it ended.</summary>
public sealed class JobRun(MigrationJob job, MigrationRequest request, MigrationFlag flag, IReadOnlyList<string> peers, DateTimeOffset started)
{
    private readonly ConcurrentDictionary<int, StepStatus> _statuses = new();
    private volatile PlannedJob? _plan;
    private volatile JobEnd? _end;
    private volatile int _stepsAtOnce;

    public MigrationJob Job => job;
    public MigrationRequest Request => request;
    public MigrationKind Kind => MigrationKindModule.ofOperation(request.Operation);
    public MigrationFlag Flag => flag;
    public IReadOnlyList<string> Peers => peers;
    public CancellationTokenSource Cancellation { get; } = new();
    public Task Running { get; set; } = Task.CompletedTask;

    public PlannedJob? Plan
    {
        get => _plan;
        set
        {
            foreach (var step in value!.Steps)
                _statuses.TryAdd(step.Id, StepStatus.Pending);
            _plan = value;
        }
    }

    public JobEnd? End
    {
        get => _end;
        set => _end = value;
    }

    /// <summary>The steps the job starts at once now (<see cref="MigrationPace"/>); 0 until its steps run.</summary>
    public int StepsAtOnce
    {
        get => _stepsAtOnce;
        set => _stepsAtOnce = value;
    }

    public StepStatus Status(int step) => _statuses.GetValueOrDefault(step, StepStatus.Pending);

    public void Set(int step, StepStatus status) => _statuses[step] = status;

    public FSharpMap<int, StepStatus> Statuses => MapModule.OfSeq(_statuses.Select(s => Tuple.Create(s.Key, s.Value)));

    /// <summary>
    /// Points read so far and in all, the rate since this proxy took the job up (a resumed job's earlier points
    /// left out), and the seconds left at that rate.
    /// </summary>
    public (long Read, long Total, long Rate, long? SecondsLeft) Progress(DateTimeOffset now)
    {
        if (_plan is not { } plan)
            return (0, 0, 0, null);
        var (read, total) = MigrationProgress.points(plan, Statuses).ToValueTuple();
        var seconds = Math.Max(0.001, (now - started).TotalSeconds);
        var rate = (long)((read - _readBefore) / seconds);
        return (read, total, rate, rate > 0 ? Math.Max(0, total - read) / rate : null);
    }

    /// <summary>The points read before this proxy took the job up again, left out of its rate.</summary>
    public void Resumed() => _readBefore = _plan is { } plan ? MigrationProgress.points(plan, Statuses).Item1 : 0;

    private long _readBefore;

    public JobState State => MigrationProgress.state(Option(_plan), Statuses, Option(_end));

    /// <summary>Explicitly: C#'s implicit conversion would make a null into Some(null).</summary>
    private static FSharpOption<T> Option<T>(T? value) where T : class => value is null ? FSharpOption<T>.None : FSharpOption<T>.Some(value);
}
