using System.Text;
using System.Text.Json;
using InfluxProxy.Core;
using InfluxProxy.Host.Write;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// A copy's answer turned into line protocol as it streams: each chunk (one JSON object, or one MessagePack map, see
/// AnswerLines.MessagePack.cs) is read straight from its bytes, and each row written as one line into
/// <see cref="LineChunk"/>s of <c>batch</c> lines (<see cref="LineFormat"/>). No string per value: JSON numbers keep
/// the bytes InfluxDB answered, strings are unescaped once into a scratch buffer; a series' key and its columns' field
/// keys are made once per series.
/// </summary>
public sealed partial class AnswerLines(string db, string rp, string measurement, IReadOnlyDictionary<string, FieldType> types, int batch, int owners)
{
    /// <summary>A chunk's first buffer; it doubles as lines come (most measurements are small).</summary>
    private const int FirstBytes = 1 << 16;

    private byte[] _line = new byte[4096];
    private byte[] _text = new byte[1024];
    private byte[] _seriesKey = [];
    private byte[][] _fieldKeys = [];
    private FieldType?[] _columnTypes = [];
    private int _length;
    private int _fields; // in the row being written
    private int _fieldStart;
    private LineChunk? _filling;
    private readonly List<LineChunk> _full = [];

    /// <summary>Points written into lines so far.</summary>
    public long Points { get; private set; }

    /// <summary>Values left out: their type is not one their field's keys list (a field of several types, or unknown).</summary>
    public long Unfit { get; private set; }

    /// <summary>The chunks filled to <c>batch</c> lines since the last call, to send.</summary>
    public List<LineChunk> TakeFull()
    {
        var full = _full.ToList();
        _full.Clear();
        return full;
    }

    /// <summary>The last chunk, not full, once the answer has ended.</summary>
    public LineChunk? TakeRest()
    {
        var rest = _filling;
        _filling = null;
        return rest;
    }

    /// <summary>Reads one chunk of the answer. Throws <see cref="StepFailure"/> on an error in it, <see cref="JsonException"/> on what is not JSON.</summary>
    public void Read(ReadOnlySpan<byte> chunk)
    {
        var reader = new Utf8JsonReader(chunk);
        Expect(ref reader, JsonTokenType.StartObject);
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("results"u8))
            {
                Expect(ref reader, JsonTokenType.StartArray);
                while (Next(ref reader) == JsonTokenType.StartObject)
                    ReadResult(ref reader);
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                throw new StepFailure($"the source answered an error: {reader.GetString()}");
            }
            else
                SkipValue(ref reader);
        }
    }

    private void ReadResult(ref Utf8JsonReader reader)
    {
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("series"u8))
            {
                Expect(ref reader, JsonTokenType.StartArray);
                while (Next(ref reader) == JsonTokenType.StartObject)
                    ReadSeries(ref reader);
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                throw new StepFailure($"the source answered an error: {reader.GetString()}");
            }
            else
                SkipValue(ref reader);
        }
    }

    /// <summary>A series: its tags and columns come before its values, as InfluxDB writes them.</summary>
    private void ReadSeries(ref Utf8JsonReader reader)
    {
        var tags = new List<Tuple<string, string>>();
        string[]? columns = null;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("tags"u8))
            {
                Expect(ref reader, JsonTokenType.StartObject);
                while (Next(ref reader) == JsonTokenType.PropertyName)
                {
                    var key = reader.GetString()!;
                    reader.Read();
                    tags.Add(Tuple.Create(key, reader.TokenType == JsonTokenType.String ? reader.GetString()! : Encoding.UTF8.GetString(reader.ValueSpan)));
                }
            }
            else if (reader.ValueTextEquals("columns"u8))
            {
                Expect(ref reader, JsonTokenType.StartArray);
                var names = new List<string>();
                while (Next(ref reader) == JsonTokenType.String)
                    names.Add(reader.GetString()!);
                columns = [.. names];
            }
            else if (reader.ValueTextEquals("values"u8))
            {
                if (columns is null)
                    throw new StepFailure("the source answered values before their columns");
                StartSeries(tags, columns);
                Expect(ref reader, JsonTokenType.StartArray);
                while (Next(ref reader) == JsonTokenType.StartArray)
                    ReadRow(ref reader);
            }
            else
                SkipValue(ref reader);
        }
    }

    private void StartSeries(List<Tuple<string, string>> tags, string[] columns)
    {
        _seriesKey = Encoding.UTF8.GetBytes(LineFormat.seriesKey(measurement, tags));
        _fieldKeys = [.. columns.Select(c => Encoding.UTF8.GetBytes(LineFormat.fieldKey(c)))];
        _columnTypes = [.. columns.Select(c => types.TryGetValue(c, out var type) ? type : null)];
    }

    /// <summary>One row: its time, then a value per column (null where the point has no such field).</summary>
    private void ReadRow(ref Utf8JsonReader reader)
    {
        StartRow();
        var time = default(ReadOnlySpan<byte>);
        for (var column = 0; Next(ref reader) != JsonTokenType.EndArray; column++)
        {
            if (column == 0)
                time = reader.ValueSpan;
            else if (reader.TokenType != JsonTokenType.Null)
                EndField(WriteValue(ref reader, column));
        }
        EndRow(time);
    }

    private void StartRow()
    {
        _length = 0;
        _fields = 0;
        Append(_seriesKey);
    }

    /// <summary>Writes the separator and the column's key, and keeps room for a value of <paramref name="room"/> bytes; where to write it.</summary>
    private Span<byte> StartField(int column, int room)
    {
        if (column >= _fieldKeys.Length)
            throw new StepFailure("the source answered a row with more values than columns");
        _fieldStart = _length;
        Append(_fields == 0 ? " "u8 : ","u8);
        Append(_fieldKeys[column]);
        Reserve(room);
        return _line.AsSpan(_length);
    }

    /// <summary>Keeps the field whose value took <paramref name="written"/> bytes; -1 takes it back, the value not fitting its type.</summary>
    private void EndField(int written)
    {
        if (written >= 0)
        {
            _length += written;
            _fields++;
        }
        else
        {
            _length = _fieldStart;
            Unfit++;
        }
    }

    /// <summary>Ends the row with its time (room for it reserved) and adds it as a line, unless no field was kept.</summary>
    private void EndRow(ReadOnlySpan<byte> time)
    {
        if (_fields == 0)
            return;
        Append(" "u8);
        Append(time);
        (_filling ??= new LineChunk(db, rp, owners, new DeliveryTally(), FirstBytes)).AppendVerbatim(_line.AsSpan(0, _length));
        Points++;
        if (_filling.Lines >= batch)
        {
            _full.Add(_filling);
            _filling = null;
        }
    }

    /// <summary>The value at the reader as line protocol after the key; its length, or -1 when it does not fit the type.</summary>
    private int WriteValue(ref Utf8JsonReader reader, int column)
    {
        var value = reader.ValueSpan;
        var into = StartField(column, LineFormat.room(value.Length));
        if (_columnTypes[column] is not { } type)
            return -1;
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                return LineFormat.writeNumber(type, value, into);
            case JsonTokenType.True or JsonTokenType.False:
                return LineFormat.writeBoolean(type, reader.TokenType == JsonTokenType.True, into);
            case JsonTokenType.String when !reader.ValueIsEscaped:
                return LineFormat.writeString(type, value, into);
            case JsonTokenType.String:
                if (_text.Length < value.Length)
                    _text = new byte[value.Length * 2];
                var unescaped = reader.CopyString(_text);
                return LineFormat.writeString(type, _text.AsSpan(0, unescaped), into);
            default:
                return -1;
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        Reserve(bytes.Length);
        bytes.CopyTo(_line.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Reserve(int bytes)
    {
        if (_length + bytes > _line.Length)
            Array.Resize(ref _line, Math.Max(_line.Length * 2, _length + bytes));
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new StepFailure("the source's answer ended in the middle of a chunk");

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (Next(ref reader) != type)
            throw new StepFailure($"the source's answer has {reader.TokenType} where {type} was expected");
    }

    /// <summary>Skips the value of the property at the reader.</summary>
    private static void SkipValue(ref Utf8JsonReader reader)
    {
        reader.Read();
        reader.Skip();
    }
}
