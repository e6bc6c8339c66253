using System.IO.Pipelines;
using ChatWire.Protocol.Noise;

namespace ChatWire.Gateway.Noise;

internal sealed partial class NoiseServerConnection
{
    /// <summary>
    /// The decrypted frame stream. A read decrypts every complete record the transport holds into a pooled buffer,
    /// which is given back once the session has consumed all of it; an incomplete record stays (still encrypted) in
    /// the transport's input until the rest arrives.
    /// </summary>
    private sealed class Reader(NoiseServerConnection owner) : PipeReader, System.Buffers.IBufferWriter<byte>
    {
        private PlaintextBuffer _plaintext;
        private bool _examinedAll;
        private bool _completed;
        private bool _handshaken;

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var input = owner._inner.Input;
            if (!_handshaken)
            {
                var early = await owner.HandshakeAsync(cancellationToken);
                if (early is null)
                {
                    return new ReadResult(_plaintext.Sequence, isCanceled: true, isCompleted: false);
                }

                _handshaken = true;
                _plaintext.Write(early);
                _examinedAll = false;
            }

            while (true)
            {
                if ((!_plaintext.IsEmpty && !_examinedAll) || _completed)
                {
                    return new ReadResult(_plaintext.Sequence, isCanceled: false, isCompleted: _completed);
                }

                var result = await input.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                var before = _plaintext.Length;
                try
                {
                    while (owner._transport!.TryDecode(ref buffer, this))
                    {
                    }
                }
                catch (NoiseException ex)
                {
                    input.AdvanceTo(buffer.End);
                    _plaintext.Clear();
                    throw Failed(ex);
                }

                var leftover = buffer.Length;
                input.AdvanceTo(buffer.Start, buffer.End);
                if (_plaintext.Length != before)
                {
                    _examinedAll = false;
                }

                if (result.IsCanceled)
                {
                    return new ReadResult(_plaintext.Sequence, isCanceled: true, isCompleted: false);
                }

                if (result.IsCompleted)
                {
                    if (leftover > 0)
                    {
                        // The stream ended inside a record: nothing of it is decrypted or handed on.
                        throw Failed(new NoiseException(NoiseError.TruncatedRecord, $"The stream ended {leftover} bytes into a record."));
                    }

                    _completed = true;
                }
            }
        }

        public override bool TryRead(out ReadResult result)
        {
            // Nothing is decrypted outside ReadAsync; what is already plaintext is offered.
            result = new ReadResult(_plaintext.Sequence, isCanceled: false, isCompleted: _completed);
            return !_plaintext.IsEmpty && !_examinedAll;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            _examinedAll = _plaintext.IsAtEnd(examined);
            _plaintext.Consume(consumed);
        }

        public override void CancelPendingRead() => owner._inner.Input.CancelPendingRead();

        public override void Complete(Exception? exception = null)
        {
            _plaintext.Clear();
            owner._inner.Input.Complete(exception);
            owner.SideCompleted();
        }

        // The decrypting side: the transport appends each record's plaintext here.
        void System.Buffers.IBufferWriter<byte>.Advance(int count) => _plaintext.Advance(count);

        Memory<byte> System.Buffers.IBufferWriter<byte>.GetMemory(int sizeHint) => _plaintext.GetMemory(sizeHint);

        Span<byte> System.Buffers.IBufferWriter<byte>.GetSpan(int sizeHint) => _plaintext.GetSpan(sizeHint);
    }

    /// <summary>
    /// The plaintext side of the output: frames collect in a pooled buffer and are encrypted into records, sized to
    /// the transport's buffers, when flushed. Before the handshake has completed nothing can be encrypted, so what is
    /// written then (only an ERROR ending a connection that never finished its handshake) is dropped.
    /// </summary>
    private sealed class Writer(NoiseServerConnection owner) : PipeWriter
    {
        // The plaintext size below which a record is not split to fit the transport's current buffer.
        private const int MinimumRecordPayload = 1024;

        private PlaintextBuffer _plaintext;

        public override void Advance(int bytes) => _plaintext.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => _plaintext.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => _plaintext.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            var output = owner._inner.Output;
            var transport = owner._transport;
            if (transport is null)
            {
                _plaintext.Clear();
                return ValueTask.FromResult(new FlushResult(isCanceled: false, isCompleted: false));
            }

            try
            {
                var plaintext = _plaintext.Span;
                while (!plaintext.IsEmpty)
                {
                    var span = output.GetSpan(NoiseFraming.LengthPrefixSize + CipherState.TagSize + Math.Min(plaintext.Length, MinimumRecordPayload));
                    var room = Math.Min(span.Length, NoiseTransport.MaxRecordLength + NoiseFraming.LengthPrefixSize) - NoiseFraming.LengthPrefixSize - CipherState.TagSize;
                    var chunk = plaintext[..Math.Min(plaintext.Length, room)];
                    output.Advance(transport.Encode(chunk, span));
                    plaintext = plaintext[chunk.Length..];
                }
            }
            catch (NoiseException ex)
            {
                // Only nonce exhaustion gets here: the connection must close, and nothing more goes out.
                throw Failed(ex);
            }
            finally
            {
                _plaintext.Clear();
            }

            return output.FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => owner._inner.Output.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
            _plaintext.Clear();
            owner._inner.Output.Complete(exception);
            owner.SideCompleted();
        }
    }
}
