using System.Buffers;
using System.Buffers.Text;
using InfluxProxy.Core;
using MessagePack;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// The same answer in MessagePack (<c>Accept: application/x-msgpack</c>, InfluxDB 1.4 and later), which costs the
/// source half the CPU of JSON to write: values arrive typed (a float as its 64 bits, an integer as 64 bits, an
/// unsigned one past 2^63 as such), and are written as their field's type wants them.
/// </summary>
public sealed partial class AnswerLines
{
    /// <summary>Reads one chunk (one map). Throws <see cref="StepFailure"/> on an error in it, <see cref="MessagePackSerializationException"/> on what is not MessagePack.</summary>
    public void Read(ReadOnlySequence<byte> chunk)
    {
        var reader = new MessagePackReader(chunk);
        for (var entries = reader.ReadMapHeader(); entries > 0; entries--)
            switch (reader.ReadString())
            {
                case "results":
                    for (var results = reader.ReadArrayHeader(); results > 0; results--)
                        ReadResult(ref reader);
                    break;
                case "error":
                    throw new StepFailure($"the source answered an error: {reader.ReadString()}");
                default:
                    reader.Skip();
                    break;
            }
    }

    private void ReadResult(ref MessagePackReader reader)
    {
        for (var entries = reader.ReadMapHeader(); entries > 0; entries--)
            switch (reader.ReadString())
            {
                case "series":
                    for (var series = reader.ReadArrayHeader(); series > 0; series--)
                        ReadSeries(ref reader);
                    break;
                case "error":
                    throw new StepFailure($"the source answered an error: {reader.ReadString()}");
                default:
                    reader.Skip();
                    break;
            }
    }

    /// <summary>A series: its tags and columns come before its values, as InfluxDB writes them.</summary>
    private void ReadSeries(ref MessagePackReader reader)
    {
        var tags = new List<Tuple<string, string>>();
        string[]? columns = null;
        for (var entries = reader.ReadMapHeader(); entries > 0; entries--)
            switch (reader.ReadString())
            {
                case "tags":
                    for (var count = reader.ReadMapHeader(); count > 0; count--)
                        tags.Add(Tuple.Create(reader.ReadString() ?? "", reader.ReadString() ?? ""));
                    break;
                case "columns":
                    columns = new string[reader.ReadArrayHeader()];
                    for (var i = 0; i < columns.Length; i++)
                        columns[i] = reader.ReadString() ?? "";
                    break;
                case "values":
                    if (columns is null)
                        throw new StepFailure("the source answered values before their columns");
                    StartSeries(tags, columns);
                    for (var rows = reader.ReadArrayHeader(); rows > 0; rows--)
                        ReadRow(ref reader);
                    break;
                default:
                    reader.Skip();
                    break;
            }
    }

    /// <summary>One row: its time (ns), then a value per column (nil where the point has no such field).</summary>
    private void ReadRow(ref MessagePackReader reader)
    {
        StartRow();
        var columns = reader.ReadArrayHeader();
        var time = reader.ReadInt64();
        for (var column = 1; column < columns; column++)
        {
            if (!reader.TryReadNil())
                EndField(WriteValue(ref reader, column));
        }
        Span<byte> text = stackalloc byte[20];
        Utf8Formatter.TryFormat(time, text, out var written);
        EndRow(text[..written]);
    }

    /// <summary>The value at the reader as line protocol after the key; its length, or -1 when it does not fit the type.</summary>
    private int WriteValue(ref MessagePackReader reader, int column)
    {
        var type = _columnTypes[column];
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Float when type is { } t:
                return LineFormat.writeFloat(t, reader.ReadDouble(), StartField(column, LineFormat.numberRoom));
            case MessagePackType.Integer when type is { } t && reader.NextCode == MessagePackCode.UInt64:
                // Encoders write a positive integer either way: only past 2^63 is it an unsigned one.
                var large = reader.ReadUInt64();
                return large <= long.MaxValue
                    ? LineFormat.writeInteger(t, (long)large, StartField(column, LineFormat.numberRoom))
                    : LineFormat.writeUnsigned(t, large, StartField(column, LineFormat.numberRoom));
            case MessagePackType.Integer when type is { } t:
                return LineFormat.writeInteger(t, reader.ReadInt64(), StartField(column, LineFormat.numberRoom));
            case MessagePackType.Boolean when type is { } t:
                return LineFormat.writeBoolean(t, reader.ReadBoolean(), StartField(column, LineFormat.numberRoom));
            case MessagePackType.String when type is { } t:
                var value = reader.ReadStringSequence()!.Value;
                var length = (int)value.Length;
                if (_text.Length < length)
                    _text = new byte[length * 2];
                value.CopyTo(_text);
                return LineFormat.writeString(t, _text.AsSpan(0, length), StartField(column, LineFormat.room(length)));
            default:
                reader.Skip();
                StartField(column, 0);
                return -1;
        }
    }
}
