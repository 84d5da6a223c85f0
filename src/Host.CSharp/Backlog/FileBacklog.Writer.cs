namespace InfluxProxy.Host.Backlog;

/// <summary>The writer thread: it alone writes the log's files. Appends in groups with one fsync, then readers' commits, then truncation.</summary>
public sealed partial class FileBacklog
{
    private void StartWriter() => new Thread(WriteLoop) { IsBackground = true, Name = $"backlog {Name}" }.Start();

    private void WriteLoop()
    {
        try
        {
            WriteUntilClosed();
        }
        catch (Exception e)
        {
            // A bug outside the per-item handling: the thread must not take the process down, and nothing queued may
            // wait forever. The log takes no more work; every caller learns why.
            LogWriterFailed(_logger, e, Name);
            CloseAndFailQueued(e);
        }
        finally
        {
            _writerStopped.TrySetResult();
        }
    }

    private void CloseAndFailQueued(Exception e)
    {
        List<Work> left;
        lock (_work)
        {
            _closing = true;
            left = [.. _work];
            _work.Clear();
        }
        foreach (var work in left)
        {
            if (work is AppendWork append)
                Fail(append, e.Message);
            else if (work is CommitWork commit)
                commit.Done.TrySetException(new IOException($"backlog {Name}: its writer stopped: {e.Message}", e));
        }
    }

    private void WriteUntilClosed()
    {
        var group = new List<Work>();
        while (TakeGroup(group))
        {
            var appends = group.OfType<AppendWork>().ToList();
            try
            {
                WriteGroup(appends);
            }
            catch (Exception e)
            {
                // Not an I/O error (those are handled per record): a bug. Fail what is left of the group loudly and
                // keep serving; the next write first cuts the segment back to its published (durable) end.
                LogWriterFailed(_logger, e, Name);
                lock (_state)
                    _writeLength = _end.Segment == _writeSegment ? _end.Offset : RecordFormat.SegmentHeader;
                _needsCutBack = true;
                foreach (var append in appends)
                    Fail(append, e.Message);
            }
            var committed = false;
            foreach (var commit in group.OfType<CommitWork>())
                committed |= WriteCommit(commit);
            if (committed)
                Truncate();
            group.Clear();
        }
    }

    /// <summary>Waits for work, then takes what is queued (at most <see cref="MaxGroup"/> items); false once closing and drained.</summary>
    private bool TakeGroup(List<Work> group)
    {
        lock (_work)
        {
            while (_work.Count == 0 && !_closing)
                Monitor.Wait(_work);
            while (group.Count < MaxGroup && _work.TryDequeue(out var work))
                group.Add(work);
            return group.Count > 0;
        }
    }

    /// <summary>Writes a group of records, fsyncs once, publishes the durable end, completes the appends.</summary>
    private void WriteGroup(List<AppendWork> group)
    {
        var written = new List<AppendWork>(group.Count);
        var groupStart = _writeLength;
        foreach (var append in group)
        {
            if (_needsCutBack && TryCutBack() is { } cutError)
            {
                Fail(append, cutError);
                continue;
            }
            if (_writeLength + append.Record.Length > _options.SegmentBytes && _writeLength > RecordFormat.SegmentHeader)
            {
                MakeDurable(written, groupStart);
                written.Clear();
                // A segment is left only whole: bytes past its durable end that could not be cut back would be read
                // as records once it is no longer the last one.
                if (_needsCutBack)
                {
                    Fail(append, "a failed write could not be cut back");
                    continue;
                }
                if (TryRoll() is { } rollError)
                {
                    Fail(append, rollError);
                    continue;
                }
                groupStart = _writeLength;
            }
            try
            {
                _writer.Position = _writeLength;
                _options.FaultInjector?.Invoke(BacklogIoStep.RecordWrite, _writer, append.Record);
                _writer.Write(append.Record.Span);
                append.Payload = new BacklogPosition(_writeSegment, _writeLength + append.Record.Length - append.PayloadLength);
                _writeLength += append.Record.Length;
                written.Add(append);
            }
            catch (IOException e)
            {
                _needsCutBack = true;
                TryCutBack();
                Fail(append, e.Message);
            }
        }
        MakeDurable(written, groupStart);
    }

    private void MakeDurable(List<AppendWork> written, long groupStart)
    {
        if (written.Count == 0)
            return;
        try
        {
            _options.FaultInjector?.Invoke(BacklogIoStep.RecordFsync, _writer, ReadOnlyMemory<byte>.Empty);
            _writer.Flush(flushToDisk: true);
        }
        catch (IOException e)
        {
            // What reached the disk is unknown: cut the whole group back and report none of it stored.
            _writeLength = groupStart;
            _needsCutBack = true;
            TryCutBack();
            foreach (var append in written)
                Fail(append, e.Message);
            return;
        }
        var bytes = written.Sum(a => (long)a.Record.Length);
        lock (_state)
        {
            _end = new BacklogPosition(_writeSegment, _writeLength);
            _queuedBytes -= bytes;
            foreach (var reader in _readers)
            {
                reader.PendingBytesField += bytes;
                reader.PendingRecordsField += written.Count;
                reader.OldestField ??= RecordFormat.AppendedAtOf(written[0].Record.Span);
            }
        }
        foreach (var append in written)
            // The payload is the record's last part.
            append.Answer(AppendResult.Appended(append.Payload!, append.Payload! with { Offset = append.Payload!.Offset + append.PayloadLength },
                append.Record.Length));
    }

    private void Fail(AppendWork append, string error)
    {
        var length = append.Length;
        if (!append.Answer(new AppendResult(AppendOutcome.IoError, error)))
            return; // already answered (and accounted for)
        lock (_state)
            _queuedBytes -= length;
    }

    /// <summary>Writes a reader's position to its commit file (fsynced); false when the disk refused (the caller learns why).</summary>
    private bool WriteCommit(CommitWork commit)
    {
        try
        {
            commit.Reader.CommitFile.Write(commit.Next);
        }
        catch (Exception e)
        {
            // The reader learns why; its record stays the head.
            commit.Done.TrySetException(e);
            return false;
        }
        lock (_state)
            commit.Reader.CountCommitted(commit.Next, commit.Records, commit.Bytes);
        commit.Done.TrySetResult();
        return true;
    }

    /// <summary>Deletes the segments every reader has passed (FasterLog's TruncateUntil, made at each commit).</summary>
    private void Truncate()
    {
        long passed;
        lock (_state)
            passed = _readers.Min(r => r.CommittedField.Segment);
        ClosePayloadReaders(segment => segment < passed);
        try
        {
            foreach (var segment in ListSegments(_dir).Where(s => s < passed))
            {
                try
                {
                    File.Delete(SegmentPath(_dir, segment));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    LogDeleteFailed(_logger, Name, segment, e.Message); // tried again after the next commit
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The folder cannot be listed (removed by hand?): nothing is deleted; tried again after the next commit.
            LogDeleteFailed(_logger, Name, passed, e.Message);
        }
    }

    /// <summary>Truncates the segment to its last good length; null when done, else why not (retried before the next write).</summary>
    private string? TryCutBack()
    {
        try
        {
            _writer.SetLength(_writeLength);
            _writer.Flush(flushToDisk: true);
            _needsCutBack = false;
            return null;
        }
        catch (IOException e)
        {
            LogCutBackFailed(_logger, Name, e.Message);
            return $"a failed write could not be cut back: {e.Message}";
        }
    }

    /// <summary>Starts the next segment; null when done, else why not (the current segment stays the writer's).</summary>
    private string? TryRoll()
    {
        var next = _writeSegment + 1;
        FileStream created;
        try
        {
            created = CreateSegment(_dir, next, _options.FaultInjector);
        }
        catch (IOException e)
        {
            return $"cannot start segment {next}: {e.Message}";
        }
        _writer.Dispose();
        _writer = created;
        _writeSegment = next;
        _writeLength = RecordFormat.SegmentHeader;
        return null;
    }
}
