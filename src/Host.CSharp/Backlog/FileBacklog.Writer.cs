namespace InfluxProxy.Host.Backlog;

/// <summary>The producer side: one writer thread owns the segment file, writes groups of records and fsyncs once per group.</summary>
public sealed partial class FileBacklog
{
    private void WriteLoop()
    {
        var group = new List<PendingAppend>();
        while (_appends.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (group.Count < MaxGroup && _appends.Reader.TryRead(out var append))
                group.Add(append);
            try
            {
                WriteGroup(group);
            }
            catch (Exception e)
            {
                // Not an I/O error (those are handled per record): a bug. Fail what is left of the group loudly and
                // keep serving; the next write first cuts the segment back to its published (durable) end.
                LogWriterFailed(_logger, e, _backend);
                lock (_state)
                    _writeLength = _end.Segment == _writeSegment ? _end.Offset : RecordFormat.SegmentHeader;
                _needsCutBack = true;
                foreach (var append in group)
                    Fail(append, e.Message);
            }
            group.Clear();
        }
    }

    /// <summary>Writes a group of records, fsyncs once, publishes the durable end, completes the appends.</summary>
    private void WriteGroup(List<PendingAppend> group)
    {
        var written = new List<PendingAppend>(group.Count);
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
                _writer.Write(append.Record);
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

    private void MakeDurable(List<PendingAppend> written, long groupStart)
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
            _pendingBytes += bytes;
            _pendingRecords += written.Count;
            _oldest ??= RecordFormat.AppendedAtOf(written[0].Record);
        }
        foreach (var append in written)
            // The payload is the record's last part.
            append.Done.TrySetResult(AppendResult.Appended(append.Payload!, append.Payload! with { Offset = append.Payload!.Offset + append.PayloadLength }));
    }

    private void Fail(PendingAppend append, string error)
    {
        if (!append.Done.TrySetResult(new AppendResult(AppendOutcome.IoError, error)))
            return; // already answered (and accounted for)
        lock (_state)
            _queuedBytes -= append.Record.Length;
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
            LogCutBackFailed(_logger, _backend, e.Message);
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
