using System.Text;
using InfluxProxy.Core;
using InfluxProxy.Host.Backlog;
using Microsoft.FSharp.Collections;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// The migration jobs on disk, so a job survives a restart or a kill -9 and goes on where it was
/// (<see cref="MigrationJobModule"/> has the formats):
/// <code>
/// &lt;data_dir&gt;/migrate/
///   copied.json               the copies finished whole by every job so far: a later job does not copy them again
///   jobs/&lt;id&gt;/
///     job.json                the request as it came; written (renamed into place, fsynced) before the 202
///     plan.json               the members, what the sources held, and the steps; written once, before any step runs
///     steps.log               one line per finished step, fsynced as each ends; a torn last line is ignored
///     end                     "finished", "cancelled" or "abandoned ///     end                     "finished" or "cancelled" once the job has endedlt;reason///     end                     "finished" or "cancelled" once the job has endedgt;" once the job has ended
/// </code>
/// </summary>
public sealed class JobStore
{
    private readonly string _root;
    private readonly string _jobs;
    private readonly Lock _stepLogLock = new();

    public JobStore(string dataDir)
    {
        _root = Path.Combine(dataDir, "migrate");
        _jobs = Path.Combine(_root, "jobs");
    }

    /// <summary>One job as found on disk.</summary>
    public sealed record Stored(MigrationJob Job, PlannedJob? Plan, FSharpList<StepRecord> Records, JobEnd? End);

    public void Create(MigrationJob job)
    {
        if (!Directory.Exists(_jobs))
        {
            Directory.CreateDirectory(_jobs);
            DirectorySync.Fsync(_root);
            DirectorySync.Fsync(Path.GetDirectoryName(_root)!);
        }
        var dir = Path.Combine(_jobs, job.Id);
        Directory.CreateDirectory(dir);
        WriteDurably(dir, "job.json", MigrationJobModule.encode(job));
        DirectorySync.Fsync(_jobs);
    }

    public void SavePlan(string id, PlannedJob plan) => WriteDurably(Path.Combine(_jobs, id), "plan.json", MigrationJobModule.encodePlan(plan));

    public void Record(string id, StepRecord record)
    {
        var line = Encoding.UTF8.GetBytes(MigrationJobModule.encodeRecord(record));
        lock (_stepLogLock)
        {
            using var log = new FileStream(Path.Combine(_jobs, id, "steps.log"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
            if (log.Length > 0)
            {
                // A line torn by a crash is ended first, so it does not swallow this record.
                log.Seek(-1, SeekOrigin.End);
                if (log.ReadByte() != '\n')
                    log.WriteByte((byte)'\n');
            }
            log.Write(line);
            log.Flush(flushToDisk: true);
        }
    }

    public void End(string id, JobEnd end) => WriteDurably(Path.Combine(_jobs, id), "end", MigrationJobModule.encodeEnd(end));

    /// <summary>Every job whose request can be read, oldest first.</summary>
    public List<Stored> Load()
    {
        if (!Directory.Exists(_jobs))
            return [];
        var stored = new List<Stored>();
        foreach (var dir in Directory.EnumerateDirectories(_jobs).Order(StringComparer.Ordinal))
        {
            if (Read(dir, "job.json") is not { } text || MigrationJobModule.decode(text)?.Value is not { } job)
                continue;
            var plan = Read(dir, "plan.json") is { } planText ? MigrationJobModule.decodePlan(planText)?.Value : null;
            var records = MigrationJobModule.decodeRecords(Read(dir, "steps.log") ?? "");
            var end = Read(dir, "end") is { } endText ? MigrationJobModule.decodeEnd(endText)?.Value : null;
            stored.Add(new Stored(job, plan, records, end));
        }
        return stored;
    }

    public FSharpSet<Tuple<string, string, string, string, string>> Copied() =>
        Read(_root, "copied.json") is { } text && MigrationJobModule.decodeCopied(text)?.Value is { } copied
            ? copied
            : SetModule.Empty<Tuple<string, string, string, string, string>>();

    public void SaveCopied(FSharpSet<Tuple<string, string, string, string, string>> copied) =>
        WriteDurably(_root, "copied.json", MigrationJobModule.encodeCopied(copied));

    private static string? Read(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    /// <summary>Written beside, fsynced, renamed into place and the folder fsynced: the file is whole or absent.</summary>
    private static void WriteDurably(string dir, string name, string text)
    {
        var temporary = Path.Combine(dir, name + ".tmp");
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            file.Write(Encoding.UTF8.GetBytes(text));
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, Path.Combine(dir, name), overwrite: true);
        DirectorySync.Fsync(dir);
    }
}
