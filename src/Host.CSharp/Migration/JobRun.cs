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

    public MigrationJob Job => job;
    public MigrationRequest Request => request;
    public MigrationKind Kind => MigrationKindModule.ofOperation(request.Operation);
    public MigrationFlag Flag => flag;
    public IReadOnlyList<string> Peers => peers;
    public DateTimeOffset Started => started;
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

    public StepStatus Status(int step) => _statuses.GetValueOrDefault(step, StepStatus.Pending);

    public void Set(int step, StepStatus status) => _statuses[step] = status;

    public FSharpMap<int, StepStatus> Statuses => MapModule.OfSeq(_statuses.Select(s => Tuple.Create(s.Key, s.Value)));

    public JobState State => MigrationProgress.state(Option(_plan), Statuses, Option(_end));

    /// <summary>Explicitly: C#'s implicit conversion would make a null into Some(null).</summary>
    private static FSharpOption<T> Option<T>(T? value) where T : class => value is null ? FSharpOption<T>.None : FSharpOption<T>.Some(value);
}
