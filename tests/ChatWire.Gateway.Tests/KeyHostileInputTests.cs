using System.Net;
using System.Text;
using ChatWire.Testing;
using static ChatWire.Gateway.Tests.HttpApiTests;

namespace ChatWire.Gateway.Tests;

// Hostile bodies and paths on the key directory: every one is a 400 VALIDATION_FAILED problem, never a 500 and
// never something stored. K is a valid 32-byte key, S a valid 64-byte signature, C the caller's channel.
public sealed class KeyHostileInputTests
{
    private const string K = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    private const string S = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    [Theory]
    [InlineData("PUT", "v1/keys/account", "{\"signing_key\":12}")]
    [InlineData("PUT", "v1/keys/account", "{\"signing_key\":\"" + K + "\",\"reset\":\"yes\"}")]
    [InlineData("PUT", "v1/keys/account", "[]")]
    [InlineData("PUT", "v1/keys/history-key", "{\"generation\":99999999999,\"public_key\":\"" + K + "\",\"signature\":\"" + S + "\"}")]
    [InlineData("PUT", "v1/keys/history-key", "{\"generation\":-1,\"public_key\":\"" + K + "\",\"signature\":\"" + S + "\"}")]
    [InlineData("PUT", "v1/keys/history-key", "{\"generation\":1.5,\"public_key\":\"" + K + "\",\"signature\":\"" + S + "\"}")]
    [InlineData("PUT", "v1/keys/history-key", "{\"generation\":1,\"public_key\":\"AAAA AAAA\",\"signature\":\"" + S + "\"}")]
    [InlineData("PUT", "v1/keys/devices/me", "{\"signing_key\":\"" + K + "\",\"dh_key\":\"" + K + "\",\"created_at_ms\":-5,\"certificate_version\":1,\"self_signature\":\"" + S + "\"}")]
    [InlineData("PUT", "v1/keys/devices/me", "{\"signing_key\":\"" + K + "\",\"dh_key\":\"" + K + "\",\"created_at_ms\":1e400,\"certificate_version\":1,\"self_signature\":\"" + S + "\"}")]
    [InlineData("POST", "v1/keys/devices/me/one-time-prekeys", "{\"prekeys\":[null]}")]
    [InlineData("POST", "v1/keys/devices/me/one-time-prekeys", "{\"prekeys\":{}}")]
    [InlineData("POST", "v1/keys/devices/me/one-time-prekeys", "{\"prekeys\":[{\"prekey_id\":0,\"public_key\":\"" + K + "\"}]}")]
    [InlineData("PUT", "v1/keys/device-list", "{\"version\":1,\"devices\":[null],\"signature\":\"" + S + "\"}")]
    [InlineData("PUT", "v1/keys/device-list", "{\"version\":1,\"devices\":[{\"device_id\":\"00000000-0000-0000-0000-000000000000\",\"certificate_hash\":\"" + K + "\"}],\"signature\":\"" + S + "\"}")]
    [InlineData("PUT", "v1/keys/device-list", "{\"version\":-9223372036854775808,\"devices\":[],\"signature\":\"" + S + "\"}")]
    [InlineData("PUT", "v1/keys/devices/not-a-uuid/certificate", "{\"certificate_version\":1,\"account_signature\":\"" + S + "\"}")]
    [InlineData("PUT", "v1/keys/devices/00000000-0000-0000-0000-000000000000/link-payload", "{\"payload\":\"\"}")]
    [InlineData("PUT", "v1/keys/recovery-backup", "{\"backup\":\"====\"}")]
    [InlineData("GET", "v1/keys/users/0190a0b2-6f3c-7d4e-8a5b-1c2d3e4f5a6bx", null)]
    [InlineData("POST", "v1/keys/users/00000000-0000-0000-0000-000000000000/devices/x/claim-prekey", null)]
    [InlineData("POST", "v1/conversations/C/key-bundles", "{\"chain_id\":\"" + K + "\",\"epoch\":1,\"entries\":[]}")]
    [InlineData("POST", "v1/conversations/C/key-bundles", "{\"chain_id\":\"0190a0b2-6f3c-7d4e-8a5b-1c2d3e4f5a6b\",\"epoch\":0,\"entries\":[]}")]
    [InlineData("POST", "v1/conversations/C/key-bundles", "{\"chain_id\":\"0190a0b2-6f3c-7d4e-8a5b-1c2d3e4f5a6b\",\"epoch\":1,\"entries\":[null]}")]
    [InlineData("POST", "v1/conversations/C/key-bundles", "{\"chain_id\":\"0190a0b2-6f3c-7d4e-8a5b-1c2d3e4f5a6b\",\"epoch\":1,\"entries\":\"x\"}")]
    [InlineData("GET", "v1/conversations/C/key-bundles?after=-1", null)]
    [InlineData("GET", "v1/conversations/C/key-bundles?after=99999999999999999999", null)]
    [InlineData("PUT", "v1/conversations/C/e2e/mode", "{\"mode\":7}")]
    public async Task KeyEndpoints_HostileInput_ValidationFailed(string method, string path, string? json)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var (_, general) = await alice.CreateTeamAsync();
        var target = path.Replace("/C/", $"/{general}/", StringComparison.Ordinal);
        var content = new StringContent(json ?? string.Empty, Encoding.UTF8, "application/json");

        var response = json is null && method == "GET"
            ? await alice.SendAsync(HttpMethod.Get, target)
            : await alice.SendRawAsync(new HttpMethod(method), target, content);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }
}
