namespace InfluxProxy.Host.Hosting;

/// <summary>Every event id the proxy logs with, in one place, by area (so no two events share one).</summary>
internal static class EventIds
{
    // The server and its requests
    public const int Started = 1;
    public const int CertificateUnchecked = 2;
    public const int InertKeys = 3;
    public const int Request = 10;
    public const int Unhandled = 20;
    public const int AnswerBrokenOff = 21;

    // A backend's writer: live batches
    public const int PartialWrite = 100;
    public const int WriteFailed = 101;
    public const int BacklogRefused = 102;
    public const int FlushFailed = 103;

    // A backend's replayer: its backlog, and the quarantine
    public const int ReplayDropped = 200;
    public const int ReplayRetryLater = 201;
    public const int ReplayFailed = 202;
    public const int ReplayWentAway = 203;
    public const int ReplaySendingBehind = 204;
    public const int Quarantined = 205;

    // Health checks
    public const int StateChanged = 300;

    // Background work
    public const int Stopped = 400;
    public const int StopFailed = 401;


    // The on-disk backlog (a backend's, or the write journal's)
    public const int BacklogOpened = 500;
    public const int BacklogRecovered = 501;
    public const int CorruptSkipped = 502;
    public const int CommitUnreadable = 503;
    public const int CommitRepaired = 504;
    public const int CutBackFailed = 505;
    public const int DamagedHeader = 506;
    public const int DeleteFailed = 507;
    public const int WriterFailed = 508;
    public const int SegmentMissing = 509;

    // The write journal
    public const int JournalReplayed = 600;
    public const int JournalReplayFailed = 601;
    public const int JournalAppendFailed = 602;
    public const int JournalUnreadable = 603;
    public const int JournalCommitFailed = 604;

    // The write pipeline: redelivery from the journal
    public const int Redelivering = 700;
    public const int RedeliveryFailed = 701;
    public const int RedeliveryRefused = 702;

    // Migration jobs
    public const int MigrationStarted = 800;
    public const int MigrationProgress = 801;
    public const int MigrationStepFailed = 802;
    public const int MigrationEnded = 803;
    public const int MigrationPlanFailed = 804;
    public const int PeerRefused = 810;
    public const int PeerUnreachable = 811;
    public const int MigrationLogUnwritable = 812;
}
