using System.Buffers;
using System.Buffers.Binary;
using ChatWire.Protocol.Noise;
using ChatWire.Protocol.Tests.Support;

namespace ChatWire.Protocol.Tests.Noise;

public class NoiseTransportTests
{
    private static readonly byte[] Stream = [.. Enumerable.Range(0, 1000).Select(i => (byte)i)];

    [Fact]
    public void Encode_StreamLargerThanRecord_SplitsAndDecodesToSameBytes()
    {
        var (client, server) = NoisePair.Connect(maxRecordLength: 64);
        using (client)
        using (server)
        {
            var encoded = new byte[client.GetEncodedLength(Stream.Length)];
            Assert.Equal(encoded.Length, client.Encode(Stream, encoded));

            // 1000 bytes at 48 per record: 21 records, each with a 2-byte prefix and a 16-byte tag.
            Assert.Equal(1000 + (21 * 18), encoded.Length);
            Assert.Equal(Stream, DecodeAll(server, new ReadOnlySequence<byte>(encoded)));
            Assert.Equal(21UL, server.ReceivedRecords);
        }
    }

    [Fact]
    public void TryDecode_OneBytePerSegment_SameBytesAsWhole()
    {
        var (client, server) = NoisePair.Connect(maxRecordLength: 100);
        using (client)
        using (server)
        {
            var output = new ArrayBufferWriter<byte>();
            client.Encode(Stream, output);

            Assert.Equal(Stream, DecodeAll(server, Segments.OneBytePerSegment(output.WrittenSpan.ToArray())));
        }
    }

    [Fact]
    public void TryDecode_Span_FalseUntilWholeRecordThenPlaintext()
    {
        var (client, server) = NoisePair.Connect();
        using (client)
        using (server)
        {
            var record = new byte[client.GetEncodedLength(10)];
            client.Encode(Stream.AsSpan(0, 10), record);
            var plaintext = new byte[NoiseTransport.MaxRecordPayload];
            for (var length = 0; length < record.Length; length++)
            {
                Assert.False(server.TryDecode(record.AsSpan(0, length), plaintext, out var consumed, out _));
                Assert.Equal(0, consumed);
            }

            Assert.True(server.TryDecode(record, plaintext, out var used, out var written));
            Assert.Equal(record.Length, used);
            Assert.Equal(Stream[..10], plaintext[..written]);
        }
    }

    [Fact]
    public void TryDecode_FlippedBitInAnyRecordByte_RefusedWithNothingDecrypted()
    {
        // Every bit of the ciphertext and tag (the prefix is covered by the length tests below).
        var probe = new byte[2 + 20 + 16];
        for (var bit = NoiseFraming.LengthPrefixSize * 8; bit < probe.Length * 8; bit++)
        {
            var (client, server) = NoisePair.Connect();
            using (client)
            using (server)
            {
                var record = new byte[client.GetEncodedLength(20)];
                client.Encode(Stream.AsSpan(0, 20), record);
                record[bit / 8] ^= (byte)(1 << (bit % 8));
                var output = new ArrayBufferWriter<byte>();
                var input = new ReadOnlySequence<byte>(record);

                var error = Assert.Throws<NoiseException>(() => server.TryDecode(ref input, output));

                Assert.Equal(NoiseError.DecryptionFailed, error.Error);
                Assert.Equal(0, output.WrittenCount);
            }
        }
    }

    [Fact]
    public void TryDecode_ReplayedRecord_RefusedAndTransportFailed()
    {
        var (client, server) = NoisePair.Connect();
        using (client)
        using (server)
        {
            var record = new byte[client.GetEncodedLength(10)];
            client.Encode(Stream.AsSpan(0, 10), record);
            var plaintext = new byte[NoiseTransport.MaxRecordPayload];
            Assert.True(server.TryDecode(record, plaintext, out _, out _));

            var error = Assert.Throws<NoiseException>(() => server.TryDecode(record, plaintext, out _, out _));

            Assert.Equal(NoiseError.DecryptionFailed, error.Error);
            Assert.Equal(NoiseError.InvalidState, Assert.Throws<NoiseException>(() => server.TryDecode(record, plaintext, out _, out _)).Error);
        }
    }

    [Fact]
    public void TryDecode_RecordsOutOfOrder_SecondRecordFirstIsRefused()
    {
        var (client, server) = NoisePair.Connect();
        using (client)
        using (server)
        {
            var first = new byte[client.GetEncodedLength(10)];
            var second = new byte[client.GetEncodedLength(10)];
            client.Encode(Stream.AsSpan(0, 10), first);
            client.Encode(Stream.AsSpan(10, 10), second);

            var error = Assert.Throws<NoiseException>(() => server.TryDecode(second, new byte[64], out _, out _));

            Assert.Equal(NoiseError.DecryptionFailed, error.Error);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(65)]
    [InlineData(ushort.MaxValue)]
    public void TryDecode_LengthOutsideTagAndLimit_RefusedBeforeBodyArrives(int length)
    {
        var (client, server) = NoisePair.Connect(maxRecordLength: 64);
        using (client)
        using (server)
        {
            var prefix = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(prefix, (ushort)length);
            var input = new ReadOnlySequence<byte>(prefix);

            var error = Assert.Throws<NoiseException>(() => server.TryDecode(ref input, new ArrayBufferWriter<byte>()));

            Assert.Equal(NoiseError.InvalidRecordLength, error.Error);
        }
    }

    [Fact]
    public void ThrowIfTruncated_StreamEndsInsideRecord_RefusedAsTruncated()
    {
        var (client, server) = NoisePair.Connect();
        using (client)
        using (server)
        {
            var record = new byte[client.GetEncodedLength(10)];
            client.Encode(Stream.AsSpan(0, 10), record);
            var input = new ReadOnlySequence<byte>(record, 0, record.Length - 1);
            Assert.False(server.TryDecode(ref input, new ArrayBufferWriter<byte>()));

            var error = Assert.Throws<NoiseException>(() => NoiseFraming.ThrowIfTruncated(input.Length));

            Assert.Equal(NoiseError.TruncatedRecord, error.Error);
            NoiseFraming.ThrowIfTruncated(0);
        }
    }

    [Fact]
    public void Encode_SendNonceNearLimit_LastRecordDecodesThenBothSidesRefuse()
    {
        var (client, server) = NoisePair.Connect();
        using (client)
        using (server)
        {
            client.SendCipher.SetNonce(CipherState.ReservedNonce - 1);
            server.ReceiveCipher.SetNonce(CipherState.ReservedNonce - 1);
            var record = new byte[client.GetEncodedLength(10)];
            client.Encode(Stream.AsSpan(0, 10), record);
            Assert.True(server.TryDecode(record, new byte[64], out _, out var written));
            Assert.Equal(10, written);

            // Documented behaviour: at 2^64-1 the transport refuses to send or receive; the connection closes.
            Assert.Equal(NoiseError.NonceExhausted, Assert.Throws<NoiseException>(() => client.Encode(Stream.AsSpan(0, 10), record)).Error);
            Assert.Equal(NoiseError.NonceExhausted, Assert.Throws<NoiseException>(() => server.TryDecode(record, new byte[64], out _, out _)).Error);
            Assert.Equal(NoiseError.InvalidState, Assert.Throws<NoiseException>(() => client.Encode(Stream.AsSpan(0, 10), record)).Error);
        }
    }

    [Fact]
    public void RekeySchedule_AtEveryMultipleOf2To24Records_BothSidesRekeyAndTheStreamContinues()
    {
        var (client, server) = NoisePair.Connect();
        using (client)
        using (server)
        {
            client.SendCipher.SetNonce(NoiseTransport.RekeyInterval - 1);
            server.ReceiveCipher.SetNonce(NoiseTransport.RekeyInterval - 1);
            var keyBefore = client.SendCipher.KeyForTest.ToArray();
            var output = new ArrayBufferWriter<byte>();

            // The record with nonce 2^24-1 is the last under the old key; the next one is under REKEY(old key).
            client.Encode(Stream.AsSpan(0, 10), output);
            var keyAfterFirst = client.SendCipher.KeyForTest.ToArray();
            client.Encode(Stream.AsSpan(10, 10), output);

            Assert.NotEqual(keyBefore, keyAfterFirst);
            Assert.Equal(keyAfterFirst, client.SendCipher.KeyForTest.ToArray());
            Assert.Equal(Stream[..20], DecodeAll(server, new ReadOnlySequence<byte>(output.WrittenMemory)));
            Assert.Equal(keyAfterFirst, server.ReceiveCipher.KeyForTest.ToArray());
        }
    }

    [Fact]
    public void Rekey_SenderAndReceiverInStep_StreamContinuesUnderNewKey()
    {
        var (client, server) = NoisePair.Connect(NoisePattern.IK);
        using (client)
        using (server)
        {
            var keyBefore = client.SendCipher.KeyForTest.ToArray();
            var output = new ArrayBufferWriter<byte>();
            client.Encode(Stream.AsSpan(0, 100), output);
            client.RekeySend();
            client.Encode(Stream.AsSpan(100, 100), output);

            var input = new ReadOnlySequence<byte>(output.WrittenMemory);
            var plaintext = new ArrayBufferWriter<byte>();
            Assert.True(server.TryDecode(ref input, plaintext));
            server.RekeyReceive();
            Assert.True(server.TryDecode(ref input, plaintext));

            Assert.NotEqual(keyBefore, client.SendCipher.KeyForTest.ToArray());
            Assert.Equal(client.SendCipher.KeyForTest.ToArray(), server.ReceiveCipher.KeyForTest.ToArray());
            Assert.Equal(Stream[..200], plaintext.WrittenSpan.ToArray());
        }
    }

    [Fact]
    public void Dispose_Transport_ZeroesKeysAndRefusesUse()
    {
        var (client, server) = NoisePair.Connect();
        server.Dispose();
        client.Dispose();

        Assert.All(client.SendCipher.KeyForTest.ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(NoiseError.InvalidState, Assert.Throws<NoiseException>(() => client.Encode(Stream, new byte[2000])).Error);
    }

    [Fact]
    public void Constructor_PerConnectionState_AtMost256ManagedBytesAndNoArrays()
    {
        // What a connection holds after its handshake: this object and two cipher states with their keys inline.
        // Measured as bytes allocated on this thread; warmed once so no first-call runtime allocation is counted.
        Create().Dispose();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var transport = Create();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        transport.Dispose();

        Assert.InRange(allocated, 1, 256);

        static NoiseTransport Create() => new(new CipherState(), new CipherState());
    }

    private static byte[] DecodeAll(NoiseTransport transport, ReadOnlySequence<byte> input)
    {
        var output = new ArrayBufferWriter<byte>();
        while (transport.TryDecode(ref input, output))
        {
        }

        Assert.True(input.IsEmpty);
        return output.WrittenSpan.ToArray();
    }
}
