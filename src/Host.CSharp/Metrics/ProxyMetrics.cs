using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Backlog;
using InfluxProxy.Host.Write;
using Prometheus;

namespace InfluxProxy.Host.Metrics;

/// <summary>
/// The proxy's own metrics for <c>/metrics</c>. Hot paths only bump plain counters (<see cref="BackendStats"/>);
/// they are copied into Prometheus series when a scrape asks, so writing a point costs no metric call.
/// </summary>
public static class ProxyMetrics
{
    private static readonly string[] BackendLabel = ["backend"];

    /// <summary>Seconds from a batch's flush to the backend's answer, by outcome.</summary>
    public static readonly Histogram FlushSeconds = Prometheus.Metrics.CreateHistogram(
        "influxproxy_backend_flush_seconds", "Time to send one batch to a backend.",
        new HistogramConfiguration { LabelNames = ["backend", "outcome"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });

    private static readonly Gauge Up = Gauge("influxproxy_backend_up", "1 when the backend answers its ping.");
    private static readonly Counter Delivered = Counter("influxproxy_backend_points_delivered_total", "Points a backend stored from live batches.");
    private static readonly Counter Backlogged = Counter("influxproxy_backend_points_backlogged_total", "Points queued in a backend's on-disk backlog.");
    private static readonly Counter Refused = Counter("influxproxy_backend_partial_write_points_total", "Points in batches a backend answered with a partial write.");
    private static readonly Counter Replayed = Counter("influxproxy_backlog_replayed_records_total", "Backlog records a backend took on replay.");
    private static readonly Counter Dropped = Counter("influxproxy_backlog_dropped_records_total", "Backlog records a backend refused for good (logged).");
    private static readonly Counter Quarantined = Counter("influxproxy_backlog_quarantined_records_total", "Backlog records set aside in the quarantine folder since the start (logged).");
    private static readonly Counter Corrupt = Counter("influxproxy_backlog_corrupt_records_total", "Backlog records skipped as corrupt since the start (logged).");
    private static readonly Gauge BacklogBytes = Gauge("influxproxy_backlog_bytes", "Bytes waiting in a backend's backlog.");
    private static readonly Gauge BacklogRecords = Gauge("influxproxy_backlog_records", "Records waiting in a backend's backlog.");
    private static readonly Gauge BacklogAge = Gauge("influxproxy_backlog_oldest_age_seconds", "Age of the oldest record waiting in a backend's backlog.");

    private static readonly Prometheus.Gauge JournalBytes = ProxyGauge(
        "influxproxy_journal_bytes", "Bytes of requests in the write journal not yet delivered to every owner.");
    private static readonly Prometheus.Gauge JournalRecords = ProxyGauge(
        "influxproxy_journal_records", "Requests in the write journal not yet delivered to every owner.");
    private static readonly Prometheus.Counter JournalCorrupt = ProxyCounter(
        "influxproxy_journal_corrupt_records_total", "Write journal records skipped as damaged since the start (logged).");

    private static readonly Prometheus.Gauge OwnerCacheDatabases = ProxyGauge(
        "influxproxy_owner_cache_databases", "Databases whose measurement owners /write remembers (at most 10,000).");
    private static readonly Prometheus.Gauge OwnerCacheNames = ProxyGauge(
        "influxproxy_owner_cache_measurements", "Measurement owners /write remembers, over every database (at most 100,000 per database).");

    private static readonly Prometheus.Gauge WriteBudgetBytes = ProxyGauge(
        "influxproxy_write_budget_bytes", "Bytes of the /write bodies being split and journaled (at most max_concurrent_write_bytes, or one larger body).");
    private static readonly Prometheus.Gauge WriteBudgetWaiting = ProxyGauge(
        "influxproxy_write_budget_waiting", "/write requests waiting for their turn under max_concurrent_write_bytes.");
    private static readonly Prometheus.Counter WriteBudgetTimeouts = ProxyCounter(
        "influxproxy_write_budget_timeouts_total", "/write requests answered 503 after waiting for their turn for all of write_timeout.");

    /// <summary>Copies every backend's counters into the registry before each scrape.</summary>
    public static void Export(Cluster cluster, BackendRegistry backends, WriteJournal? journal, ByteBudget writes, TimeProvider time) =>
        Prometheus.Metrics.DefaultRegistry.AddBeforeCollectCallback(() =>
        {
            WriteBudgetBytes.Set(writes.Held);
            WriteBudgetWaiting.Set(writes.Waiting);
            WriteBudgetTimeouts.IncTo(writes.TimedOut);
            var (databases, names) = cluster.Remembered;
            OwnerCacheDatabases.Set(databases);
            OwnerCacheNames.Set(names);
            JournalBytes.Set(journal?.PendingBytes ?? 0);
            JournalRecords.Set(journal?.PendingRecords ?? 0);
            JournalCorrupt.IncTo(journal?.CorruptRecords ?? 0);
            foreach (var backend in backends)
            {
                var name = backend.Info.Name;
                var stats = backend.Stats;
                Up.WithLabels(name).Set(backend.Health.State.IsUp ? 1 : 0);
                Delivered.WithLabels(name).IncTo(stats.DeliveredPoints);
                Backlogged.WithLabels(name).IncTo(stats.BackloggedPoints);
                Refused.WithLabels(name).IncTo(stats.RefusedBatchPoints);
                Replayed.WithLabels(name).IncTo(stats.ReplayedRecords);
                Dropped.WithLabels(name).IncTo(stats.DroppedRecords);
                Quarantined.WithLabels(name).IncTo(stats.QuarantinedRecords);
                Corrupt.WithLabels(name).IncTo(backend.Backlog.Recovery.CorruptRecordsSkipped + backend.Backlog.Reader.CorruptRecordsSkipped);
                BacklogBytes.WithLabels(name).Set(backend.Backlog.Reader.PendingBytes);
                BacklogRecords.WithLabels(name).Set(backend.Backlog.Reader.PendingRecords);
                BacklogAge.WithLabels(name).Set(backend.Backlog.Reader.OldestPendingAt is { } oldest ? (time.GetUtcNow() - oldest).TotalSeconds : 0);
            }
        });

    /// <summary>A series of the whole proxy, not of one backend.</summary>
    private static Prometheus.Gauge ProxyGauge(string name, string help) => Prometheus.Metrics.CreateGauge(name, help);

    private static Prometheus.Counter ProxyCounter(string name, string help) => Prometheus.Metrics.CreateCounter(name, help);

    private static Gauge Gauge(string name, string help) =>
        Prometheus.Metrics.CreateGauge(name, help, new GaugeConfiguration { LabelNames = BackendLabel });

    private static Counter Counter(string name, string help) =>
        Prometheus.Metrics.CreateCounter(name, help, new CounterConfiguration { LabelNames = BackendLabel });
}
