using System.Text;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// The per-operation log files the original writes under <c>mlog_dir</c> (<c>rebalance.log</c>, <c>recovery.log</c>,
/// <c>resync.log</c>, <c>clear.log</c> or <c>cleanup.log</c>): one line per event, each job's lines in its own file
/// (the original sent a second job's lines into the first one's file). A log that cannot be written is reported
/// once to the proxy's own log; the job goes on.
/// </summary>
public sealed partial class MigrationLog(string dir, TimeProvider time, ILogger<MigrationLog> logger)
{
    private readonly Lock _lock = new();
    private bool _failed;

    public void Write(string operation, string line)
    {
        var text = $"{time.GetUtcNow():yyyy-MM-dd'T'HH:mm:ss.fff'Z'} {line}\n";
        lock (_lock)
        {
            try
            {
                Directory.CreateDirectory(dir);
                File.AppendAllText(Path.Combine(dir, operation + ".log"), text, Encoding.UTF8);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (!_failed)
                    LogUnwritable(dir, e.Message);
                _failed = true;
            }
        }
    }

    [LoggerMessage(EventId = Hosting.EventIds.MigrationLogUnwritable, Level = LogLevel.Warning, Message = "the migration log in {Dir} cannot be written: {Reason}")]
    private partial void LogUnwritable(string dir, string reason);
}
