using System.Diagnostics.CodeAnalysis;

namespace ChatWire.Protocol.Internal;

// Throw helpers keep the throwing code out of the parsers' hot paths (smaller, inlinable callers).
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void Malformed(string message, uint requestId = 0) =>
        throw new ProtocolException(ErrorCode.MalformedFrame, message, requestId);

    [DoesNotReturn]
    public static void InvalidField(string message, uint requestId) =>
        throw new ProtocolException(ErrorCode.InvalidField, message, requestId);

    [DoesNotReturn]
    public static void FrameTooLarge(ulong length, uint limit) =>
        throw new ProtocolException(ErrorCode.FrameTooLarge, $"Frame length {length} exceeds the limit of {limit} bytes.");

    [DoesNotReturn]
    public static void ContentTooLarge(long length, int limit, uint requestId) =>
        throw new ProtocolException(ErrorCode.ContentTooLarge, $"Content length {length} exceeds the limit of {limit} bytes.", requestId);
}
