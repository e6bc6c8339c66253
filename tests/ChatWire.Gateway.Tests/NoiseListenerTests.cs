using System.Buffers;
using System.Net.Http.Json;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Protocol.Noise;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// The Noise listener (docs/protocol.md §8): XX for first contact, IK with the pinned key (HELLO inside the first
// message), the key published and kept across restarts, rotation with the previous key still accepted.
public sealed class NoiseListenerTests
{
    [Fact]
    public async Task Xx_FirstContact_LearnsThePublishedKeyAndRunsTheSession()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await using var receiver = await RawClient.ConnectAuthenticatedAsync(bob, WireTransport.Noise);
        await using var client = await RawClient.ConnectNoiseAsync(server.NoiseEndPoint);

        await client.HandshakeAsync(alice.Token, alice.DeviceId);
        var ack = await client.SendTextAsync(dm, "over noise");
        var info = await server.Http.GetFromJsonAsync<JsonElement>("v1/server-info");

        Assert.Equal(NoisePattern.XX, client.Noise!.Pattern);
        Assert.Equal(server.NoisePublicKey, client.Noise.ServerStaticKey.ToArray());
        Assert.Equal(Convert.ToHexStringLower(server.NoisePublicKey), info.GetProperty("noise_static_public_key").GetString());
        Assert.Equal(server.NoiseEndPoint.Port, info.GetProperty("endpoints").GetProperty("noise").GetProperty("port").GetInt32());
        Assert.Equal(ack.MessageId, (await receiver.ExpectMessageAsync()).EventId);
    }

    [Fact]
    public async Task Ik_HelloInsideTheFirstMessage_WelcomeIsTheFirstRecord()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        await using var client = await RawClient.ConnectNoiseAsync(server.NoiseEndPoint, server.NoisePublicKey, Frame(new Hello(1, ProtocolLimits.CurrentVersion, "ik-test", [])));

        var welcome = await client.ExpectAsync<Welcome>();
        await client.SendAsync(new Auth(2, alice.Token, alice.DeviceId));
        var ok = await client.ExpectAsync<AuthOk>();

        Assert.Equal(NoisePattern.IK, client.Noise!.Pattern);
        Assert.Null(client.Noise.AnnouncedServerKey);
        Assert.Equal(1u, welcome.RequestId);
        Assert.Equal(alice.UserId, ok.UserId);
    }

    [Fact]
    public async Task Ik_WrongServerKey_ClosedWithoutAnAnswer()
    {
        await using var server = await TestServer.StartAsync();
        using var other = NoiseKeyPair.Generate();

        var ex = await Assert.ThrowsAsync<NoiseException>(() => RawClient.ConnectNoiseAsync(server.NoiseEndPoint, other.PublicKey.ToArray()));

        Assert.Equal(NoiseError.HandshakeRejected, ex.Error);
        Assert.Equal(1, await server.WaitForMetricAsync("chatwire_noise_handshakes_total", "pattern=\"ik\",result=\"failed\"", v => v >= 1));
    }

    [Theory]
    [InlineData("auth")]
    [InlineData("two_hellos")]
    [InlineData("garbage")]
    public async Task Ik_PayloadOtherThanOneHello_ClosedWithoutAnAnswer(string kind)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync("alice");
        var hello = Frame(new Hello(1, ProtocolLimits.CurrentVersion, "ik-test", []));
        byte[] payload = kind switch
        {
            // AUTH in the first IK message would not be forward secret: the token is refused there.
            "auth" => Frame(new Auth(1, alice.Token, alice.DeviceId)),
            "two_hellos" => [.. hello, .. hello],
            _ => [0, 0, 0, 3, 1, 2, 3],
        };

        var ex = await Assert.ThrowsAsync<NoiseException>(() => RawClient.ConnectNoiseAsync(server.NoiseEndPoint, server.NoisePublicKey, payload));

        Assert.Equal(NoiseError.HandshakeRejected, ex.Error);
    }

    [Fact]
    public async Task Key_GeneratedOnce_SameAfterRestart_AndRotationKeepsThePreviousAccepted()
    {
        var data = TestServer.NewDataDirectory();
        try
        {
            byte[] first;
            await using (var server = await TestServer.StartAsync(dataDirectory: data))
            {
                first = server.NoisePublicKey;
            }

            await using (var again = await TestServer.StartAsync(dataDirectory: data))
            {
                Assert.Equal(first, again.NoisePublicKey);
            }

            var keyFile = Path.Combine(data, "noise-key.json");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            var (path, rotatedHex, _) = ChatWire.Gateway.Hosting.ChatWireServer.RotateNoiseKey([$"--Gateway:DataDirectory={data}"]);
            Assert.Equal(keyFile, path);

            await using var rotated = await TestServer.StartAsync(dataDirectory: data);
            var alice = await rotated.SignupAsync("alice");
            Assert.Equal(rotatedHex, Convert.ToHexStringLower(rotated.NoisePublicKey));

            // A client that pinned the old key still gets in, and is told the new key inside the handshake.
            await using var pinnedOld = await RawClient.ConnectNoiseAsync(rotated.NoiseEndPoint, first);
            await pinnedOld.HandshakeAsync(alice.Token, alice.DeviceId);
            Assert.Equal(first, pinnedOld.Noise!.ServerStaticKey.ToArray());
            Assert.Equal(rotated.NoisePublicKey, pinnedOld.Noise.AnnouncedServerKey!.Value.ToArray());
            Assert.Equal(1, await rotated.WaitForMetricAsync("chatwire_noise_handshakes_total", "pattern=\"ik_previous\",result=\"ok\"", v => v >= 1));
        }
        finally
        {
            TestServer.DeleteDirectory(data);
        }
    }

    // A rolling rotation: the next key is staged and every node restarted with it (still presenting the old key),
    // then promoted. A client that already learnt the new key (from a node restarted after the promotion) gets into
    // a node that has not restarted since the staging, with nothing announced; after the promotion the staged key is
    // the current one, and the old one is the previous one, still accepted and answered with the new key.
    [Fact]
    public async Task StagedNextKey_AcceptedFromIkClientsBeforeItIsCurrent_ThenPromotedByTheRotation()
    {
        var data = TestServer.NewDataDirectory();
        try
        {
            byte[] first;
            await using (var server = await TestServer.StartAsync(dataDirectory: data))
            {
                first = server.NoisePublicKey;
            }

            var settings = new[] { $"--Gateway:DataDirectory={data}" };
            var (_, stagedHex, replaced) = ChatWire.Gateway.Hosting.ChatWireServer.StageNoiseKey(settings);
            Assert.Null(replaced);
            var (_, restagedHex, replacedNow) = ChatWire.Gateway.Hosting.ChatWireServer.StageNoiseKey(settings);
            Assert.Equal(stagedHex, replacedNow);
            var staged = Convert.FromHexString(restagedHex);

            await using (var staging = await TestServer.StartAsync(dataDirectory: data))
            {
                Assert.Equal(first, staging.NoisePublicKey);
                var alice = await staging.SignupAsync("alice");

                await using var onNext = await RawClient.ConnectNoiseAsync(staging.NoiseEndPoint, staged);
                await onNext.HandshakeAsync(alice.Token, alice.DeviceId);
                Assert.Equal(staged, onNext.Noise!.ServerStaticKey.ToArray());
                Assert.Null(onNext.Noise.AnnouncedServerKey);
                Assert.Equal(1, await staging.WaitForMetricAsync("chatwire_noise_handshakes_total", "pattern=\"ik_next\",result=\"ok\"", v => v >= 1));

                // The key staged first was replaced: no longer accepted.
                var ex = await Assert.ThrowsAsync<NoiseException>(() => RawClient.ConnectNoiseAsync(staging.NoiseEndPoint, Convert.FromHexString(stagedHex)));
                Assert.Equal(NoiseError.HandshakeRejected, ex.Error);
            }

            var (_, rotatedHex, wasStaged) = ChatWire.Gateway.Hosting.ChatWireServer.RotateNoiseKey(settings);
            Assert.True(wasStaged);
            Assert.Equal(restagedHex, rotatedHex);

            await using var rotated = await TestServer.StartAsync(dataDirectory: data);
            Assert.Equal(staged, rotated.NoisePublicKey);
            var bob = await rotated.SignupAsync("bob");
            await using var pinnedOld = await RawClient.ConnectNoiseAsync(rotated.NoiseEndPoint, first);
            await pinnedOld.HandshakeAsync(bob.Token, bob.DeviceId);
            Assert.Equal(staged, pinnedOld.Noise!.AnnouncedServerKey!.Value.ToArray());

            // Nothing is staged now: the next rotation makes a key of its own.
            var (_, _, stagedAgain) = ChatWire.Gateway.Hosting.ChatWireServer.RotateNoiseKey(settings);
            Assert.False(stagedAgain);
        }
        finally
        {
            TestServer.DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task Rotation_PreviousKeyPastItsGrace_Refused()
    {
        var data = TestServer.NewDataDirectory();
        try
        {
            byte[] first;
            await using (var server = await TestServer.StartAsync(dataDirectory: data))
            {
                first = server.NoisePublicKey;
            }

            ChatWire.Gateway.Hosting.ChatWireServer.RotateNoiseKey([$"--Gateway:DataDirectory={data}"]);
            await using var rotated = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:NoisePreviousKeyAcceptedDays"] = "0" }, data);

            var ex = await Assert.ThrowsAsync<NoiseException>(() => RawClient.ConnectNoiseAsync(rotated.NoiseEndPoint, first));

            Assert.Equal(NoiseError.HandshakeRejected, ex.Error);
        }
        finally
        {
            TestServer.DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task NoiseListenerOff_NoKeyFile_ServerInfoSaysNull()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:NoiseEndpoint"] = string.Empty });

        var info = await server.Http.GetFromJsonAsync<JsonElement>("v1/server-info");

        Assert.Equal(JsonValueKind.Null, info.GetProperty("noise_static_public_key").ValueKind);
        Assert.Equal(JsonValueKind.Null, info.GetProperty("endpoints").GetProperty("noise").ValueKind);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "noise-key.json")));
    }

    internal static byte[] Frame<T>(T frame)
        where T : struct, IFrame<T>
    {
        var buffer = new ArrayBufferWriter<byte>();
        FrameCodec.Write(buffer, frame);
        return buffer.WrittenSpan.ToArray();
    }
}
