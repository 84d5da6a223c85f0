using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace InfluxProxy.Host.Http;

/// <summary>
/// The memory pool Kestrel's sockets read into (and write answers from), with 64 KB blocks instead of its 4 KB ones.
/// A socket read fills at most the rest of one block: with 4 KB blocks a /write body arrived 2 KB per recv call on
/// average (measured), each call a wake-up of the request's reader. Blocks are ordinary arrays, so those beyond what
/// the pool keeps die young; the sockets pin a block only while a read or write is under way.
/// </summary>
public sealed class ReceiveBlockPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    /// <summary>Free blocks kept for reuse (2 MB); more are left to the GC.</summary>
    public const int MaxRetained = 32;

    private readonly ConcurrentQueue<Block> _free = new();

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        return _free.TryDequeue(out var block) ? block : new Block(this);
    }

    protected override void Dispose(bool disposing) => _free.Clear();

    private void Return(Block block)
    {
        if (_free.Count < MaxRetained)
            _free.Enqueue(block);
    }

    private sealed class Block(ReceiveBlockPool pool) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = GC.AllocateUninitializedArray<byte>(BlockSize);

        public void Dispose() => pool.Return(this);
    }

    /// <summary>
    /// Registered in DI, where Kestrel's socket transport takes its pool factory from. Kestrel asks for a pool per I/O
    /// queue and listener; they all share one, so at most <see cref="MaxRetained"/> blocks wait idle in all.
    /// </summary>
    public sealed class Factory : IMemoryPoolFactory<byte>
    {
        private readonly ReceiveBlockPool _shared = new();

        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => _shared;
    }
}
