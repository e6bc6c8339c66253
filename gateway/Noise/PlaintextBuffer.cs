using System.Buffers;

namespace ChatWire.Gateway.Noise;

/// <summary>
/// A growable byte buffer over one pooled array, taken on the first write and given back as soon as it is empty:
/// an idle Noise connection holds none. Not thread-safe; each direction of a connection has its own.
/// </summary>
internal struct PlaintextBuffer
{
    private const int MinimumSize = 4096;

    private byte[]? _array;
    private int _start;
    private int _end;

    public readonly int Length => _end - _start;

    public readonly bool IsEmpty => _end == _start;

    /// <summary>The unread bytes as a sequence over the array (positions index the array, for <see cref="Consume"/>).</summary>
    public readonly ReadOnlySequence<byte> Sequence => _array is null ? ReadOnlySequence<byte>.Empty : new(_array, _start, _end - _start);

    public readonly ReadOnlySpan<byte> Span => _array is null ? default : _array.AsSpan(_start, _end - _start);

    /// <summary>Room for at least <paramref name="sizeHint"/> bytes after the unread ones.</summary>
    public Span<byte> GetSpan(int sizeHint) => GetMemory(sizeHint).Span;

    public Memory<byte> GetMemory(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_array is null)
        {
            _array = ArrayPool<byte>.Shared.Rent(Math.Max(sizeHint, MinimumSize));
            _start = _end = 0;
        }
        else if (_array.Length - _end < sizeHint)
        {
            var length = _end - _start;
            if (_array.Length - length >= sizeHint)
            {
                // Room enough once the consumed front is dropped.
                _array.AsSpan(_start, length).CopyTo(_array);
            }
            else
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(length + sizeHint, _array.Length * 2));
                _array.AsSpan(_start, length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_array);
                _array = larger;
            }

            _start = 0;
            _end = length;
        }

        return _array.AsMemory(_end);
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_array is null || _end + count > _array.Length)
        {
            throw new InvalidOperationException("Advanced past the buffer.");
        }

        _end += count;
        ReleaseIfEmpty();
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.IsEmpty)
        {
            bytes.CopyTo(GetSpan(bytes.Length));
            Advance(bytes.Length);
        }
    }

    /// <summary>Drops the bytes before <paramref name="position"/>, a position of the last <see cref="Sequence"/>.</summary>
    public void Consume(SequencePosition position)
    {
        if (_array is null)
        {
            return;
        }

        if (!ReferenceEquals(position.GetObject(), _array) && position.GetObject() is not null)
        {
            throw new InvalidOperationException("The position is not from this reader's last buffer.");
        }

        var index = position.GetObject() is null ? _start : position.GetInteger();
        if (index < _start || index > _end)
        {
            throw new InvalidOperationException("The position is outside the unread bytes.");
        }

        _start = index;
        ReleaseIfEmpty();
    }

    /// <summary>Drops everything.</summary>
    public void Clear()
    {
        _start = _end = 0;
        ReleaseIfEmpty();
    }

    /// <summary>Whether <paramref name="position"/> is at the end of the unread bytes.</summary>
    public readonly bool IsAtEnd(SequencePosition position) =>
        _array is null || position.GetObject() is null || position.GetInteger() >= _end;

    private void ReleaseIfEmpty()
    {
        if (_start == _end && _array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = null;
            _start = _end = 0;
        }
    }
}
