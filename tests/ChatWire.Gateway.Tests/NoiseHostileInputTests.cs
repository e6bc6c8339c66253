using System.Buffers.Binary;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Protocol.Noise;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// Hostile input on the Noise port (docs/protocol.md §8.6): every case closes its own connection with nothing sent
// back and nothing decrypted handed on, while a bystander's Noise session carries on.
public sealed class NoiseHostileInputTests
{
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RecordAttacks_EachClosesOnlyItsConnection_NothingDecryptedIsActedOn()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await using var bystander = await RawClient.ConnectAuthenticatedAsync(bob, WireTransport.Noise);
        var forged = new List<string>();

        // The DM's MEMBER_JOINED events may still be on their way to connections made right after it; once the
        // bystander has a later message of the DM, they are out, and an attacker's connection gets none of them.
        await using (var settler = await RawClient.ConnectAuthenticatedAsync(alice, WireTransport.Noise))
        {
            var settled = await settler.SendTextAsync(dm, "before the attacks");
            Assert.Equal(settled.MessageId, (await bystander.ExpectMessageAsync()).EventId);
        }

        // A flipped bit in the length prefix's low byte, the first ciphertext byte, the middle, and the tag's last byte.
        foreach (var offset in new Func<int, int>[] { _ => 1, _ => 2, length => length / 2, length => length - 1 })
        {
            await using var attacker = await RawClient.ConnectAuthenticatedAsync(alice, WireTransport.Noise);
            var text = "forged " + Guid.NewGuid();
            forged.Add(text);
            var record = Record(attacker, NoiseListenerTests.Frame(new Send(7, dm, Guid.CreateVersion7(), "text/plain", System.Text.Encoding.UTF8.GetBytes(text))));
            record[offset(record.Length)] ^= 0x01;

            await attacker.SendUnderneathAsync(record);

            Assert.Equal(0, await attacker.ReadUnderneathUntilClosedAsync(CloseWait));
        }

        // A replayed record: the first copy is answered, the second closes the connection.
        await using (var replayer = await RawClient.ConnectAuthenticatedAsync(alice, WireTransport.Noise))
        {
            var ping = Record(replayer, NoiseListenerTests.Frame(new Ping(41)));
            await replayer.SendUnderneathAsync(ping);
            Assert.Equal(41u, (await replayer.ExpectAsync<Pong>()).RequestId);

            await replayer.SendUnderneathAsync(ping);

            Assert.Equal(0, await replayer.ReadUnderneathUntilClosedAsync(CloseWait));
        }

        // A truncated record, then end of stream: nothing of it is decrypted.
        await using (var truncator = await RawClient.ConnectAuthenticatedAsync(alice, WireTransport.Noise))
        {
            var text = "truncated " + Guid.NewGuid();
            forged.Add(text);
            var record = Record(truncator, NoiseListenerTests.Frame(new Send(8, dm, Guid.CreateVersion7(), "text/plain", System.Text.Encoding.UTF8.GetBytes(text))));

            await truncator.SendUnderneathAsync(record.AsMemory(0, record.Length - 5));
            truncator.ShutdownSend();

            Assert.Equal(0, await truncator.ReadUnderneathUntilClosedAsync(CloseWait));
        }

        // Lengths below the 16-byte tag cannot be a record.
        foreach (var length in new ushort[] { 0, 1, 15 })
        {
            await using var liar = await RawClient.ConnectAuthenticatedAsync(alice, WireTransport.Noise);
            var bytes = new byte[2 + length];
            BinaryPrimitives.WriteUInt16BigEndian(bytes, length);

            await liar.SendUnderneathAsync(bytes);

            Assert.Equal(0, await liar.ReadUnderneathUntilClosedAsync(CloseWait));
        }

        // Nothing forged was stored or delivered, and the bystander's session works.
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice, WireTransport.Noise);
        var ack = await sender.SendTextAsync(dm, "still here");
        var delivered = await bystander.ExpectMessageAsync();
        Assert.Equal(ack.MessageId, delivered.EventId);
        await bystander.SendAsync(new History(90, dm, 0, HistoryDirection.After, 50));
        var page = await bystander.ExpectAsync<HistoryPage>();
        var texts = page.Events.Where(e => e.Kind == EventKind.Message).Select(e => System.Text.Encoding.UTF8.GetString(e.Content.Span)).ToList();
        Assert.Equal(["before the attacks", "still here"], texts);
        Assert.DoesNotContain(texts, t => forged.Contains(t));
    }

    [Theory]
    [InlineData("random")]
    [InlineData("http")]
    [InlineData("tls_client_hello")]
    [InlineData("plain_chatwire_hello")]
    [InlineData("oversized_handshake_message")]
    [InlineData("short_ik_message")]
    [InlineData("xx_payload_in_the_clear")]
    [InlineData("empty_xx_message")]
    [InlineData("empty_ik_message")]
    public async Task Handshake_Garbage_ClosedWithNothingSent_OthersUnaffected(string kind)
    {
        await using var server = await TestServer.StartAsync();
        var (_, bob, _) = await DeliveryTests.DmPairAsync(server);
        await using var bystander = await RawClient.ConnectAuthenticatedAsync(bob, WireTransport.Noise);
        var bytes = kind switch
        {
            "random" => RandomGarbage(),
            "http" => "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(),
            "tls_client_hello" => [0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03],
            "plain_chatwire_hello" => NoiseListenerTests.Frame(new Hello(1, ProtocolLimits.CurrentVersion, "plain", [])),
            "oversized_handshake_message" => [ChatWireNoise.SelectIK, 0xff, 0xff, .. System.Security.Cryptography.RandomNumberGenerator.GetBytes(65535)],
            "short_ik_message" => [ChatWireNoise.SelectIK, 0x00, 0x20, .. new byte[32]],

            // Refused at once, not at the deadline: the handshake counts as failed only then.
            "empty_xx_message" => [ChatWireNoise.SelectXX, 0x00, 0x00],
            "empty_ik_message" => [ChatWireNoise.SelectIK, 0x00, 0x00],
            _ => XxFirstMessageWithPayload(),
        };
        await using var attacker = await RawClient.ConnectAsync(server.NoiseEndPoint);

        await attacker.SendRawAsync(bytes);

        Assert.Equal(0, await attacker.ReadUnderneathUntilClosedAsync(CloseWait));
        await bystander.SendAsync(new Ping(5));
        Assert.Equal(5u, (await bystander.ExpectAsync<Pong>()).RequestId);
        Assert.True(await server.WaitForMetricAsync("chatwire_noise_handshakes_total", "result=\"failed\"", v => v >= 1) >= 1);
    }

    [Fact]
    public async Task Handshake_NeverFinished_ClosedAtTheDeadline()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:AuthDeadlineMs"] = "1000" });
        await using var selectorOnly = await RawClient.ConnectAsync(server.NoiseEndPoint);
        await using var silent = await RawClient.ConnectAsync(server.NoiseEndPoint);

        await selectorOnly.SendRawAsync(new byte[] { ChatWireNoise.SelectXX, 0x00 });

        Assert.Equal(0, await selectorOnly.ReadUnderneathUntilClosedAsync(CloseWait));
        Assert.Equal(0, await silent.ReadUnderneathUntilClosedAsync(CloseWait));
        Assert.True(await server.WaitForMetricAsync("chatwire_errors_total", "name=\"AUTH_TIMEOUT\"", v => v >= 2) >= 2);
    }

    // The client's record of plaintext, encrypted with its own send state (so it counts as sent).
    private static byte[] Record(RawClient client, ReadOnlySpan<byte> plaintext)
    {
        var transport = client.Noise!.Transport;
        var record = new byte[transport.GetEncodedLength(plaintext.Length)];
        transport.Encode(plaintext, record);
        return record;
    }

    // 64 random bytes whose first is not a selector. One that is (2 draws in 256) starts a handshake whose random
    // length prefix asks for more bytes than follow, so it waits and is closed at the deadline as AUTH_TIMEOUT, not
    // counted as a failed handshake: Handshake_NeverFinished_ClosedAtTheDeadline covers that case.
    private static byte[] RandomGarbage()
    {
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(64);
        while (ChatWireNoise.TryGetPattern(bytes[0], out _))
        {
            bytes[0] = (byte)System.Security.Cryptography.RandomNumberGenerator.GetInt32(256);
        }

        return bytes;
    }

    private static byte[] XxFirstMessageWithPayload()
    {
        using var client = NoiseKeyPair.Generate();
        using var handshake = HandshakeState.Create(NoisePattern.XX, initiator: true, ChatWireNoise.Prologue(NoisePattern.XX), client);
        var message = new byte[200];
        var length = handshake.WriteMessage("HELLO in the clear"u8, message);
        return [ChatWireNoise.SelectXX, (byte)(length >> 8), (byte)length, .. message.AsSpan(0, length)];
    }
}
