using System.Text;
using System.Text.RegularExpressions;
using ChatWire.Protocol.Noise;
using ChatWire.Protocol.Tests.Support;

namespace ChatWire.Protocol.Tests.Noise;

// The `noise-vector` blocks of docs/protocol.md §8.8: each is reproduced byte for byte by the production handshake
// and record code from the keys it gives, so a third party checking its Noise library against them checks against
// what the server does.
public sealed partial class NoiseDocumentVectorTests
{
    private static readonly IReadOnlyList<Dictionary<string, string>> Blocks = Parse(ProtocolDocument.Text);

    public static TheoryData<string> Names => [.. Blocks.Select(b => b["name"])];

    [Fact]
    public void Document_HasTheXxAndIkVectors()
    {
        Assert.Equal(["ik-hello", "xx-hello"], Blocks.Select(b => b["name"]).Order());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Vector_ReproducedByTheProductionCode(string name)
    {
        var block = Blocks.Single(b => b["name"] == name);
        var expected = Compute(block);

        foreach (var (key, value) in expected)
        {
            Assert.True(block.ContainsKey(key), $"{name}: the document lacks '{key}' (computed {value}).");
            Assert.Equal(value, Hex(block[key]));
        }
    }

    [Fact]
    public void ServerPayload_DocumentedBytes_AreWhatTheServerSendsAndTheClientReads()
    {
        var key = Convert.FromHexString(Hex(Field("server-payload", "server_key")));
        var payload = Convert.FromHexString(Hex(Field("server-payload", "payload")));

        Assert.Equal(payload, ChatWireNoise.EncodeServerPayload(key));
        Assert.True(ChatWireNoise.TryReadServerPayload(payload, out var read));
        Assert.Equal(key, read);
    }

    // What a vector's handshake and first records are, given its keys and payloads.
    private static Dictionary<string, string> Compute(Dictionary<string, string> block)
    {
        var pattern = Enum.Parse<NoisePattern>(block["pattern"]);
        var prologue = ChatWireNoise.Prologue(pattern);
        using var serverStatic = NoiseKeyPair.FromPrivateKey(Bytes(block, "server_static_private"));
        using var clientStatic = NoiseKeyPair.FromPrivateKey(Bytes(block, "client_static_private"));
        var helloFrame = Bytes(block, "client_payload");
        var serverKey = pattern == NoisePattern.IK ? serverStatic.PublicKey.ToArray() : [];
        using var client = HandshakeState.Create(pattern, initiator: true, prologue, clientStatic, serverKey);
        using var server = HandshakeState.Create(pattern, initiator: false, prologue, serverStatic);
        client.SetEphemeralForTest(Bytes(block, "client_ephemeral_private"));
        server.SetEphemeralForTest(Bytes(block, "server_ephemeral_private"));
        var result = new Dictionary<string, string>
        {
            ["prologue"] = Convert.ToHexStringLower(prologue),
            ["server_static_public"] = Convert.ToHexStringLower(serverStatic.PublicKey),
        };

        var payload = new byte[HandshakeState.MaxMessageLength];
        var first = Message(client, pattern == NoisePattern.IK ? helloFrame : []);
        server.ReadMessage(first, payload);
        result["client_to_server_1"] = Convert.ToHexStringLower([ChatWireNoise.Selector(pattern), .. Prefixed(first)]);
        var second = Message(server, []);
        client.ReadMessage(second, payload);
        result["server_to_client_1"] = Convert.ToHexStringLower(Prefixed(second));
        if (pattern == NoisePattern.XX)
        {
            var third = Message(client, helloFrame);
            server.ReadMessage(third, payload);
            result["client_to_server_2"] = Convert.ToHexStringLower(Prefixed(third));
        }

        result["handshake_hash"] = Convert.ToHexStringLower(client.GetHandshakeHash());
        Assert.Equal(client.GetHandshakeHash().ToArray(), server.GetHandshakeHash().ToArray());
        var (clientSend, clientReceive) = client.Split();
        var (serverSend, serverReceive) = server.Split();
        using var clientTransport = new NoiseTransport(clientSend, clientReceive);
        using var serverTransport = new NoiseTransport(serverSend, serverReceive);
        result["server_record"] = Convert.ToHexStringLower(Encode(serverTransport, Bytes(block, "server_record_plaintext")));
        result["client_record"] = Convert.ToHexStringLower(Encode(clientTransport, Bytes(block, "client_record_plaintext")));
        return result;
    }

    private static byte[] Message(HandshakeState state, ReadOnlySpan<byte> payload)
    {
        var message = new byte[state.GetWriteLength(payload.Length)];
        state.WriteMessage(payload, message);
        return message;
    }

    private static byte[] Prefixed(byte[] message) => [(byte)(message.Length >> 8), (byte)message.Length, .. message];

    private static byte[] Encode(NoiseTransport transport, byte[] plaintext)
    {
        var record = new byte[transport.GetEncodedLength(plaintext.Length)];
        transport.Encode(plaintext, record);
        return record;
    }

    private static byte[] Bytes(Dictionary<string, string> block, string key) => Convert.FromHexString(Hex(block[key]));

    private static string Field(string name, string key) => Blocks.Concat(ParseKind(ProtocolDocument.Text, "noise-payload")).Single(b => b["name"] == name)[key];

    // Hex as the document writes it (spaced, wrapped) → lowercase, no separators.
    private static string Hex(string text) => WhiteSpace().Replace(text, string.Empty).ToLowerInvariant();

    private static List<Dictionary<string, string>> Parse(string markdown) => ParseKind(markdown, "noise-vector");

    private static List<Dictionary<string, string>> ParseKind(string markdown, string kind)
    {
        var blocks = new List<Dictionary<string, string>>();
        Dictionary<string, StringBuilder>? block = null;
        string? key = null;
        foreach (var raw in markdown.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (block is null)
            {
                if (line.Trim() == "```" + kind)
                {
                    block = [];
                }

                continue;
            }

            if (line.Trim() == "```")
            {
                blocks.Add(block.ToDictionary(p => p.Key, p => p.Value.ToString()));
                block = null;
                key = null;
                continue;
            }

            var match = KeyLine().Match(line);
            if (match.Success)
            {
                key = match.Groups[1].Value;
                block[key] = new StringBuilder(match.Groups[2].Value);
            }
            else if (key is not null && line.Length > 0 && char.IsWhiteSpace(line[0]))
            {
                block[key].Append(' ').Append(line.Trim());
            }
        }

        return blocks;
    }

    [GeneratedRegex(@"^([a-z0-9_]+):\s*(.*)$")]
    private static partial Regex KeyLine();

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhiteSpace();
}
